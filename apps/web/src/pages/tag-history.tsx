// A tag's history (the time machine): every image the tag has named, newest first, and a way to
// point it back at one the repository still holds. The server refuses a restore the caller may not
// do; the button is offered only to a signed-in user.
import { useState } from 'react';
import { useLocation } from 'react-router';
import { Link } from 'react-aria-components';
import { ApiError } from '../api';
import { usePageTitle } from '../app';
import { formatTime, shortDigest } from '../format';
import { useSession } from '../session';
import { ActionButton, DataTable } from '../parts';
import { type Outcome, OutcomeText, messageOf } from '../feedback';
import { useLoad } from '../use-load';
import { splat } from './repository';

export function TagHistoryPage() {
  const reference = splat(useLocation().pathname, '/history/');
  const at = reference.lastIndexOf(':');
  const repository = at > 0 ? reference.slice(0, at) : reference;
  usePageTitle(`History of ${reference}`);
  const { api, session } = useSession();
  const [generation, setGeneration] = useState(0);
  const [message, setMessage] = useState<Outcome | undefined>();
  const history = useLoad(() => api.tagHistory(reference), [api, reference, session?.user, generation]);

  async function restore(digest: string) {
    try {
      await api.restoreTag(reference, digest);
      setMessage({ ok: true, text: `${reference} now names ${shortDigest(digest)}.` });
      setGeneration((g) => g + 1);
    } catch (e) {
      setMessage({ ok: false, text: messageOf(e, 'The tag could not be restored.') });
    }
  }

  return (
    <>
      <p className="crumbs">
        <Link href="/repositories">Repositories</Link> / <Link href={`/r/${repository}`}>{repository}</Link> / <span>history</span>
      </p>
      <h1>History of {reference}</h1>
      <OutcomeText outcome={message} />
      {history.state === 'failed' ? (
        <p role="alert" className="error">
          {history.error instanceof ApiError && history.error.status === 404
            ? 'This tag has no history.'
            : 'There is no such tag, or you may not see it.'}
        </p>
      ) : null}
      {history.state === 'done' ? (
        <DataTable caption={`Images ${reference} has named, newest first`} columns={['Tagged', 'Digest', 'State', session && 'Action']}>
          {history.value.entries.map((e) => (
            <tr key={e.digest}>
              <td>{formatTime(e.taggedAt)}</td>
              <td>
                {e.available ? (
                  <Link href={`/image/${repository}@${e.digest}`}>
                    <code title={e.digest}>{shortDigest(e.digest)}</code>
                  </Link>
                ) : (
                  <code title={e.digest}>{shortDigest(e.digest)}</code>
                )}
              </td>
              <td>{e.current ? 'current' : e.available ? 'earlier' : 'deleted'}</td>
              {session ? (
                <td>
                  {!e.current && e.available ? (
                    <ActionButton
                      className="button"
                      label="Restore"
                      target={shortDigest(e.digest)}
                      onPress={() => void restore(e.digest)}
                    />
                  ) : null}
                </td>
              ) : null}
            </tr>
          ))}
        </DataTable>
      ) : null}
      {history.state === 'loading' ? <p role="status">Loading…</p> : null}
    </>
  );
}
