// `docker commit` from the browser, with the options the seed uses: -a author, -m message, -c changes
// (one Dockerfile instruction a line, e.g. CMD ["/bin/httpd","-f","-h","/home/html"]), -p pause
// (docker's default: on). One container is one commit job; several are one batch job whose children
// each commit one. After submitting, the page follows the job's event stream (GET
// /api/v1/jobs/{id}/events) until it ends, then links the new image; a batch's children, which have
// no stream of their own open here (a browser allows six connections to a host), are read each second.
import { useEffect, useState, type FormEvent } from 'react';
import { useSearchParams } from 'react-router';
import { Button, Form, Input, Label, Link, ProgressBar, TextArea, TextField } from 'react-aria-components';
import type { BatchResult, CommitJob, CommitRequest, CommitResult } from '@stevedore/api-contract';
import { ApiError, type Api } from '../api';
import { usePageTitle } from '../app';
import { formatBytes, shortDigest } from '../format';
import { useSession } from '../session';
import { DataTable, Check } from '../parts';
import { ErrorText, LoadState } from '../feedback';
import { useLoad } from '../use-load';
import { containerName } from './containers';

const TERMINAL = new Set(['completed', 'failed', 'unknown']);

/** Docker's `-c` lines: one instruction each, blank lines ignored. */
export const changeLines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

interface Watched {
  id: string;
  reference: string;
  job?: CommitJob;
  progress?: CommitJob['progress'];
  error?: string;
}

export function CommitPage() {
  const [params] = useSearchParams();
  const ids = params.getAll('container');
  const batch = ids.length > 1;
  usePageTitle(batch ? `Commit ${ids.length} containers` : 'Commit a container');
  const { api, session } = useSession();
  const containers = useLoad(() => Promise.all(ids.map((id) => api.container(id))), [api, ids.join(','), session?.user]);
  const [targets, setTargets] = useState<Record<string, string>>({});
  const [author, setAuthor] = useState('');
  const [message, setMessage] = useState('');
  const [changes, setChanges] = useState('');
  const [pause, setPause] = useState(true);
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [parent, setParent] = useState<Watched | undefined>();
  const [children, setChildren] = useState<Watched[]>([]);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    setError(undefined);
    setBusy(true);
    const common = {
      ...(author.trim() ? { author: author.trim() } : {}),
      ...(message.trim() ? { message: message.trim() } : {}),
      changes: changeLines(changes),
      pause,
    };
    const requests: CommitRequest[] = ids.map((id) => ({ container: id, reference: (targets[id] ?? '').trim(), ...common }));
    try {
      if (batch) {
        const submitted = await api.commitBatch(requests);
        setParent({ id: submitted.id, reference: `${submitted.children.length} commits` });
        setChildren(submitted.children.map((c) => ({ id: c.id, reference: c.reference, error: c.error?.message })));
      } else {
        const job = await api.commit(requests[0]);
        setParent({ id: job.id, reference: requests[0].reference, job, progress: job.progress });
      }
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 403
          ? `You may not push to ${requests.map((r) => r.reference).join(', ')}, or not commit this container.`
          : err instanceof ApiError
            ? err.message
            : 'The commit could not be started.',
      );
    } finally {
      setBusy(false);
    }
  }

  const heading = batch ? `Commit ${ids.length} containers` : 'Commit a container';
  if (!ids.length) {
    return (
      <>
        <h1>Commit</h1>
        <p>
          Choose a container to commit on the <Link href="/containers">containers page</Link>.
        </p>
      </>
    );
  }
  return (
    <>
      <p className="crumbs">
        <Link href="/containers">Containers</Link>
        {!batch ? (
          <>
            {' / '}
            <Link href={`/containers/${encodeURIComponent(ids[0])}`}>
              {containers.state === 'done' ? containerName(containers.value[0]) : ids[0].slice(0, 12)}
            </Link>
          </>
        ) : null}{' '}
        / <span>commit</span>
      </p>
      <h1>{heading}</h1>
      <LoadState loaded={containers} failed={() => 'There is no such container, or you may not see it.'} />
      {containers.state === 'done' && !session ? (
        <p>
          <Link href="/sign-in">Sign in</Link> to commit a container.
        </p>
      ) : null}
      {containers.state === 'done' && session && !parent ? (
        <Form onSubmit={submit} className="form narrow-wide">
          <fieldset className="targets">
            <legend>Target {batch ? 'references' : 'reference'}</legend>
            {containers.value.map((c) => (
              <TextField key={c.id} isRequired value={targets[c.id] ?? ''} onChange={(v) => setTargets((t) => ({ ...t, [c.id]: v }))}>
                <Label>
                  {batch ? `Image for ${containerName(c)}` : 'Image'}{' '}
                  <span className="hint">(repository:tag, from {c.image.reference})</span>
                </Label>
                <Input placeholder={`${session.user}/name:tag`} />
              </TextField>
            ))}
          </fieldset>
          <TextField value={author} onChange={setAuthor}>
            <Label>Author (-a)</Label>
            <Input placeholder="Jane Doe <jane@example.com>" />
          </TextField>
          <TextField value={message} onChange={setMessage}>
            <Label>Message (-m)</Label>
            <Input />
          </TextField>
          <TextField value={changes} onChange={setChanges} className="react-aria-TextField editor">
            <Label>Changes (-c), one instruction a line</Label>
            <TextArea rows={4} spellCheck={false} placeholder={'CMD ["/bin/httpd","-f","-h","/home/html"]\nENV PORT=8080'} />
          </TextField>
          <Check isSelected={pause} onChange={setPause}>
            Pause the {batch ? 'containers' : 'container'} while committing (-p)
          </Check>
          <ErrorText error={error} />
          <Button type="submit" className="button" isDisabled={busy}>
            {busy ? 'Starting…' : 'Commit'}
          </Button>
        </Form>
      ) : null}
      {parent ? <JobProgress api={api} parent={parent} initialChildren={children} /> : null}
    </>
  );
}

/** The job's state as its stream tells it, and a batch's children as their status routes tell it. */
function JobProgress({ api, parent, initialChildren }: { api: Api; parent: Watched; initialChildren: Watched[] }) {
  const [job, setJob] = useState<Watched>(parent);
  const [children, setChildren] = useState<Watched[]>(initialChildren);

  useEffect(() => {
    const abort = new AbortController();
    api
      .watchJob(
        parent.id,
        (event) =>
          setJob((w) =>
            event.type === 'progress' ? { ...w, progress: event.progress } : { ...w, job: event.job, progress: event.job.progress },
          ),
        abort.signal,
      )
      .then(async () => {
        // The stream ends when the job does, or when the connection drops: read the job until it has ended.
        for (;;) {
          const j = await api.job(parent.id);
          if (abort.signal.aborted) return;
          setJob((w) => ({ ...w, job: j, progress: j.progress }));
          if (TERMINAL.has(j.state)) return;
          await new Promise((r) => setTimeout(r, 1000));
        }
      })
      .catch((e: unknown) => {
        if (!abort.signal.aborted) setJob((w) => ({ ...w, error: e instanceof Error ? e.message : 'The job could not be followed.' }));
      });
    return () => abort.abort();
  }, [api, parent.id]);

  useEffect(() => {
    if (!initialChildren.length) return;
    let stopped = false;
    const tick = async () => {
      const next = await Promise.all(
        initialChildren.map(async (c) => {
          try {
            const j = await api.job(c.id);
            return { ...c, job: j, progress: j.progress };
          } catch {
            return c;
          }
        }),
      );
      if (stopped) return;
      setChildren(next);
      if (next.some((c) => !c.error && !TERMINAL.has(c.job?.state ?? 'waiting'))) timer = setTimeout(() => void tick(), 1000);
    };
    let timer = setTimeout(() => void tick(), 0);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [api, initialChildren]);

  const state = job.job?.state ?? 'waiting';
  const what = initialChildren.length ? 'batch' : 'commit';
  const done = TERMINAL.has(state);
  const result = job.job?.result;
  return (
    <section aria-labelledby="progress-heading">
      <h2 id="progress-heading">Progress</h2>
      <p role="status" className={state === 'failed' ? 'error' : 'notice'}>
        {state === 'completed'
          ? `The ${what} finished.`
          : state === 'failed'
            ? `The ${what} failed: ${job.job?.error?.message ?? 'no reason given'}.`
            : job.error
              ? `Lost the job's progress: ${job.error}`
              : `Committing (${state})…`}
      </p>
      <Progress label={`Job ${job.id.slice(0, 12)}: ${job.reference}`} progress={job.progress} done={done} />
      {result && 'digest' in result ? <CommitDone result={result} /> : null}
      {result && 'items' in result ? <BatchDone result={result} /> : null}
      {children.length ? (
        <DataTable caption="Each commit of the batch" columns={['Image', 'State', 'Progress']}>
          {children.map((c) => {
            const r = c.job?.result;
            return (
              <tr key={c.id}>
                <td>{r && 'digest' in r ? <Link href={`/image/${r.reference}`}>{r.reference}</Link> : c.reference}</td>
                <td>{c.error ? `refused: ${c.error}` : (c.job?.state ?? 'waiting')}</td>
                <td>
                  <Progress label={`Progress of ${c.reference}`} progress={c.progress} done={TERMINAL.has(c.job?.state ?? '')} hideLabel />
                </td>
              </tr>
            );
          })}
        </DataTable>
      ) : null}
    </section>
  );
}

function Progress({
  label,
  progress,
  done,
  hideLabel,
}: {
  label: string;
  progress: CommitJob['progress'] | undefined;
  done: boolean;
  hideLabel?: boolean;
}) {
  // Files are the count the worker knows from the start; bytes follow them.
  const total = progress?.totalFiles ?? 0;
  const value = done ? 100 : total ? Math.round(((progress?.files ?? 0) / total) * 100) : 0;
  const text = progress
    ? `${progress.phase}: ${progress.files}/${progress.totalFiles} files, ${formatBytes(progress.bytes)} of ${formatBytes(progress.totalBytes)}`
    : done
      ? 'done'
      : 'queued';
  return (
    <ProgressBar className="progress" value={value} aria-label={hideLabel ? label : undefined} valueLabel={text}>
      {({ percentage, valueText }) => (
        <>
          {hideLabel ? null : <Label>{label}</Label>}
          <div className="progress-track">
            <div className="progress-fill" style={{ width: `${percentage ?? 0}%` }} />
          </div>
          <span className="progress-text">{valueText}</span>
        </>
      )}
    </ProgressBar>
  );
}

function CommitDone({ result }: { result: CommitResult }) {
  return (
    <p>
      Made <Link href={`/image/${result.reference}`}>{result.reference}</Link> (
      <code title={result.digest}>{shortDigest(result.digest)}</code>
      ),{' '}
      {result.layer ? `a layer of ${result.files} files, ${formatBytes(result.layer.size)} compressed` : 'no new layer (nothing changed)'}.
    </p>
  );
}

function BatchDone({ result }: { result: BatchResult }) {
  return (
    <p>
      {result.succeeded} of {result.total} commits made{result.failed ? `, ${result.failed} failed` : ''}.
    </p>
  );
}
