// `docker ps` and `docker create` in the browser: the caller's containers (an admin sees everyone's;
// the server decides which), a form to create one from an image (the image page links here with the
// image filled in), and a choice of several to commit as one batch.
import { useState, type FormEvent } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { Button, Form, Input, Label, Link, TextField } from 'react-aria-components';
import type { Container } from '@stevedore/api-contract';
import { ApiError } from '../api';
import { usePageTitle } from '../app';
import { formatTime, shortDigest } from '../format';
import { useSession } from '../session';
import { Check } from '../parts';
import { ErrorText, LoadState, isAbsentOrHidden } from '../feedback';
import { useLoad } from '../use-load';

/** The commit form's address for these containers (one, or several as a batch). */
export const commitHref = (ids: string[]) => `/commit?${ids.map((id) => `container=${encodeURIComponent(id)}`).join('&')}`;

export function ContainersPage() {
  usePageTitle('Containers');
  const { api, session } = useSession();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const [image, setImage] = useState(params.get('image') ?? '');
  const [name, setName] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  // Containers belong to signed-in users: an anonymous visitor is not asked the server, and while
  // the session is not known yet nothing is listed (an empty list would claim the caller has none).
  const containers = useLoad(
    () => (session ? api.containers() : session === null ? Promise.resolve([]) : new Promise<Container[]>(() => undefined)),
    [api, session?.user, session === undefined],
  );

  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const c = await api.createContainer(image.trim(), name.trim() || undefined);
      navigate(`/containers/${encodeURIComponent(c.id)}`);
    } catch (err) {
      setError(
        isAbsentOrHidden(err)
          ? `There is no image ${image.trim()}, or you may not pull it.`
          : err instanceof ApiError
            ? err.message
            : 'The container could not be created.',
      );
    } finally {
      setBusy(false);
    }
  }

  const choose = (id: string, on: boolean) =>
    setChosen((s) => {
      const next = new Set(s);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });

  if (session === null) {
    return (
      <>
        <h1>Containers</h1>
        <p>
          Containers belong to signed-in users. <Link href="/sign-in">Sign in</Link> to create one from an image.
        </p>
      </>
    );
  }

  return (
    <>
      <h1>Containers</h1>
      <section aria-labelledby="create-heading" className="panel">
        <h2 id="create-heading">Create a container</h2>
        <Form onSubmit={create} className="form inline-form">
          <TextField name="image" isRequired value={image} onChange={setImage}>
            <Label>Image</Label>
            <Input placeholder="e.g. alice/busybox:v1" />
          </TextField>
          <TextField name="name" value={name} onChange={setName}>
            <Label>Name (optional)</Label>
            <Input />
          </TextField>
          <Button type="submit" className="button" isDisabled={busy || !image.trim()}>
            {busy ? 'Creating…' : 'Create container'}
          </Button>
        </Form>
        <ErrorText error={error} />
      </section>
      <h2>Your containers{session?.admin ? ' (as an admin: everyone’s)' : ''}</h2>
      <LoadState loaded={containers} failed={() => 'The containers could not be listed.'} />
      {containers.state === 'done' && containers.value.length === 0 ? <p>No containers yet.</p> : null}
      {containers.state === 'done' && containers.value.length > 0 ? (
        <>
          <table className="table">
            <caption className="visually-hidden">Containers, with the image each was created from</caption>
            <thead>
              <tr>
                <th scope="col">
                  <span className="visually-hidden">Choose for a batch commit</span>
                </th>
                <th scope="col">Container</th>
                <th scope="col">Image</th>
                <th scope="col">State</th>
                <th scope="col">Changes</th>
                {session?.admin ? <th scope="col">Owner</th> : null}
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {containers.value.map((c: Container) => (
                <tr key={c.id}>
                  <td>
                    <Check isSelected={chosen.has(c.id)} onChange={(on) => choose(c.id, on)} aria-label={`Choose ${containerName(c)}`} />
                  </td>
                  <td>
                    <Link href={`/containers/${encodeURIComponent(c.id)}`}>{containerName(c)}</Link>
                  </td>
                  <td>
                    <Link href={`/image/${c.image.repository}@${c.image.manifestDigest}`}>{c.image.reference}</Link>{' '}
                    <code title={c.image.manifestDigest}>{shortDigest(c.image.manifestDigest)}</code>
                  </td>
                  <td>{c.state}</td>
                  <td>{c.upperEntries ? `${c.upperEntries} in the read-write layer` : 'none'}</td>
                  {session?.admin ? <td>{c.owner ?? '—'}</td> : null}
                  <td>{formatTime(c.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="actions">
            {chosen.size ? (
              <Link className="button" href={commitHref([...chosen])}>
                Commit {chosen.size} {chosen.size === 1 ? 'container' : 'containers'}
              </Link>
            ) : (
              <span className="hint">Choose containers to commit several at once.</span>
            )}
          </p>
        </>
      ) : null}
    </>
  );
}

/** A container as docker names it: its name, else the start of its ID. */
export const containerName = (c: Pick<Container, 'id' | 'name'>) => c.name || c.id.slice(0, 12);
