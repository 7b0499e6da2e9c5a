// Every job the caller may see (their own; an admin sees everyone's), of every queue: commit,
// export, import, replicate, gc. The list refreshes while a job is waiting or running, each such
// row asking its own status route for progress. From here a user saves images (an export job, whose
// archive downloads when it is done) and uploads an archive to load or a root filesystem to import,
// with the upload's progress as it goes.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Button, FieldError, Form, Input, Label, ProgressBar, Radio, RadioGroup, TextField } from 'react-aria-components';
import type { JobSummary } from '@stevedore/api-contract';
import type { JobProgress } from '../api';
import { usePageTitle } from '../app';
import { formatBytes, formatTime } from '../format';
import { useSession } from '../session';
import { ActionButton, DataTable, Choice } from '../parts';
import { type Outcome, ErrorText, OutcomeText, messageOf } from '../feedback';
import { useLoad, type Loaded } from '../use-load';

/** How often the list is read again while a job is still waiting or running. */
export const JOBS_REFRESH_MS = 1500;
const UNFINISHED = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);
// Not `delayed`: the GC schedule keeps its next run delayed for hours, which is no reason to poll.
const MOVING = new Set(['waiting', 'active', 'prioritized', 'waiting-children']);
const COMPRESSIONS = [
  { id: 'none', label: 'None (tar)' },
  { id: 'gzip', label: 'gzip' },
  { id: 'zstd', label: 'zstd' },
] as const;
type Compression = (typeof COMPRESSIONS)[number]['id'];

export function JobsPage() {
  usePageTitle('Jobs');
  const { api, session } = useSession();
  const [generation, setGeneration] = useState(0);
  const [message, setMessage] = useState<Outcome | undefined>();
  const jobs = useJobs(generation);
  const reload = () => setGeneration((g) => g + 1);

  const running = jobs.state === 'done' && jobs.value.some((j) => MOVING.has(j.state));
  useEffect(() => {
    if (!running) return;
    const t = setTimeout(reload, JOBS_REFRESH_MS);
    return () => clearTimeout(t);
  }, [running, generation]);

  if (session === undefined) return <p role="status">Loading…</p>;
  if (session === null)
    return (
      <>
        <h1>Jobs</h1>
        <p className="notice">Sign in to see your jobs, save images and load archives.</p>
      </>
    );

  async function cancel(job: JobSummary) {
    try {
      await api.cancelJob(job.id);
      setMessage({ ok: true, text: `Cancelled ${job.description}.` });
    } catch (e) {
      setMessage({ ok: false, text: messageOf(e, 'The job could not be cancelled.') });
    }
    reload();
  }

  async function remove(job: JobSummary) {
    try {
      await api.removeExport(job.id);
      setMessage({ ok: true, text: `Removed the archive of ${job.description}.` });
    } catch (e) {
      setMessage({ ok: false, text: messageOf(e, 'The export could not be removed.') });
    }
    reload();
  }

  return (
    <>
      <h1>Jobs</h1>
      <div className="panels">
        <ExportForm
          onStarted={(text) => {
            setMessage({ ok: true, text });
            reload();
          }}
        />
        <UploadForm
          onDone={(text) => {
            setMessage({ ok: true, text });
            reload();
          }}
        />
      </div>
      <h2>{session.admin ? 'Every job' : 'Your jobs'}</h2>
      <OutcomeText outcome={message} />
      {jobs.state === 'failed' ? (
        <p role="alert" className="error">
          The jobs could not be read.
        </p>
      ) : null}
      {jobs.state === 'done' && jobs.value.length === 0 ? <p className="hint">No jobs yet.</p> : null}
      {jobs.state === 'done' && jobs.value.length > 0 ? (
        <DataTable
          caption="Jobs, newest first"
          columns={['Kind', 'What', session.admin && 'Owner', 'State', 'Progress', 'Created', 'Finished', 'Actions']}
        >
          {jobs.value.map((j) => (
            <JobRow
              key={`${j.kind}:${j.id}`}
              job={j}
              showOwner={session.admin}
              tick={generation}
              onCancel={() => void cancel(j)}
              onRemove={() => void remove(j)}
            />
          ))}
        </DataTable>
      ) : null}
      {jobs.state === 'loading' ? <p role="status">Loading…</p> : null}
    </>
  );
}

/**
 * The list, read again at each generation. Unlike useLoad it keeps showing the last answer while
 * the next is read, so a refreshing table does not blink (nor lose a focused button).
 */
function useJobs(generation: number): Loaded<JobSummary[]> {
  const { api, session } = useSession();
  const [jobs, setJobs] = useState<Loaded<JobSummary[]>>({ state: 'loading' });
  useEffect(() => {
    if (!session) return;
    let current = true;
    api.jobs().then(
      (value) => current && setJobs({ state: 'done', value }),
      (error: Error) => current && setJobs({ state: 'failed', error }),
    );
    return () => {
      current = false;
    };
  }, [api, session?.user, generation]);
  return jobs;
}

function JobRow({
  job,
  showOwner,
  tick,
  onCancel,
  onRemove,
}: {
  job: JobSummary;
  showOwner: boolean;
  /** The list's generation: a running job's progress is read again with each. */
  tick: number;
  onCancel(): void;
  onRemove(): void;
}) {
  const { api } = useSession();
  const unfinished = UNFINISHED.has(job.state);
  // Only a running job has progress worth a request per row; a finished one is 100% or failed.
  const status = useLoad<JobProgress | undefined>(
    () => (unfinished ? api.jobStatus(job) : Promise.resolve(undefined)),
    [api, job.id, job.state, unfinished ? tick : 0],
  );
  // The last answer stays while the next is read, so the bar does not blink at each refresh.
  const last = useRef<JobProgress | undefined>(undefined);
  if (status.state === 'done') last.current = status.value;
  const progress = last.current;
  const percent = job.state === 'completed' ? 100 : progress?.percent;
  const cancellable = unfinished && (job.kind === 'commit' || job.kind === 'batch');
  return (
    <tr>
      <td>{job.kind}</td>
      <td>
        <code className="breakable">{job.description}</code>
        {job.error ? (
          <p className="error">
            {job.error.code}: {job.error.message}
          </p>
        ) : null}
      </td>
      {showOwner ? <td>{job.owner ?? '—'}</td> : null}
      <td>{job.state}</td>
      <td>
        {percent !== undefined ? (
          <ProgressBar value={Math.round(percent)} aria-label={`Progress of ${job.description}`} className="progress">
            {({ valueText }) => (
              <>
                <span className="progress-track" aria-hidden="true">
                  <span className="progress-fill" style={{ width: `${Math.round(percent)}%` }} />
                </span>
                <span>{valueText}</span>
              </>
            )}
          </ProgressBar>
        ) : progress?.phase ? (
          progress.phase
        ) : (
          '—'
        )}
      </td>
      <td>{formatTime(job.createdAt)}</td>
      <td>{formatTime(job.finishedAt)}</td>
      <td className="actions">
        {cancellable ? <ActionButton label="Cancel" target={job.description} onPress={onCancel} /> : null}
        {job.kind === 'export' && job.state === 'completed' ? (
          <>
            <a className="button" href={api.exportArchiveUrl(job.id)} download>
              Download <span className="visually-hidden">the archive of {job.description}</span>
            </a>
            <ActionButton label="Remove" target={`the archive of ${job.description}`} onPress={onRemove} />
          </>
        ) : null}
      </td>
    </tr>
  );
}

function ExportForm({ onStarted }: { onStarted(text: string): void }) {
  const { api } = useSession();
  const [references, setReferences] = useState('');
  const [compression, setCompression] = useState<Compression>('none');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const refs = references.split(/[\s,]+/).filter(Boolean);
    setBusy(true);
    setError(undefined);
    try {
      await api.startExport({ references: refs, compression });
      setReferences('');
      onStarted(`Saving ${refs.join(', ')}: the archive is ready to download when the job is done.`);
    } catch (err) {
      setError(messageOf(err, 'The export could not be started.'));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Form onSubmit={submit} className="form panel" aria-labelledby="export-heading">
      <h2 id="export-heading">Save images (docker save)</h2>
      <TextField name="references" isRequired value={references} onChange={setReferences}>
        <Label>Images</Label>
        <Input placeholder="alice/app:v1 alice/app:v2" />
        <span className="hint" slot="description">
          One or more, separated by spaces or commas.
        </span>
        <FieldError />
      </TextField>
      <Choice label="Compression" options={COMPRESSIONS} value={compression} onChange={setCompression} />
      <ErrorText error={error} />
      <Button type="submit" className="button" isDisabled={busy}>
        Start the export
      </Button>
    </Form>
  );
}

function UploadForm({ onDone }: { onDone(text: string): void }) {
  const { api, session } = useSession();
  // A load may write any repository its archive names, so the server takes it from admins only.
  const mayLoad = session?.admin === true;
  const [kind, setKind] = useState<'load' | 'import'>(mayLoad ? 'load' : 'import');
  const [file, setFile] = useState<File | undefined>();
  const [target, setTarget] = useState('');
  const [sent, setSent] = useState<{ loaded: number; total: number } | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (!file) return setError('Choose a file to upload.');
    setBusy(true);
    setError(undefined);
    setSent({ loaded: 0, total: file.size });
    try {
      const options = kind === 'load' ? { repository: target || undefined } : { reference: target };
      const answer = await api.upload(kind, file, options, (loaded, total) => setSent({ loaded, total }));
      setSent({ loaded: file.size, total: file.size });
      onDone(
        'reference' in answer
          ? `Imported ${file.name} as ${answer.reference}.`
          : `Uploaded ${file.name}: the load job reads it now (see the list below).`,
      );
    } catch (err) {
      setError(messageOf(err, 'The upload failed.'));
    } finally {
      setBusy(false);
    }
  }

  const percent = sent ? (sent.total ? Math.round((100 * sent.loaded) / sent.total) : 100) : undefined;
  return (
    <Form onSubmit={submit} className="form panel" aria-labelledby="upload-heading">
      <h2 id="upload-heading">Upload an archive</h2>
      <RadioGroup value={kind} onChange={(v) => setKind(v as 'load' | 'import')} className="radios">
        <Label>What it is</Label>
        <Radio value="load" isDisabled={!mayLoad}>
          A docker save archive (docker load{mayLoad ? '' : ': administrators only'})
        </Radio>
        <Radio value="import">A root filesystem tarball (docker import)</Radio>
      </RadioGroup>
      <div className="field">
        <label htmlFor="upload-file">Archive</label>
        <input id="upload-file" type="file" aria-required="true" onChange={(e) => setFile(e.target.files?.[0] ?? undefined)} />
      </div>
      <TextField name="target" value={target} onChange={setTarget} isRequired={kind === 'import'}>
        <Label>{kind === 'load' ? 'Repository (for images without a name; optional)' : 'Image to make (name:tag)'}</Label>
        <Input />
        <FieldError />
      </TextField>
      {percent !== undefined ? (
        <ProgressBar value={percent} className="progress" aria-label="Upload">
          {({ valueText }) => (
            <>
              <span className="progress-track" aria-hidden="true">
                <span className="progress-fill" style={{ width: `${percent}%` }} />
              </span>
              <span>
                {valueText} ({formatBytes(sent?.loaded)} of {formatBytes(sent?.total)})
              </span>
            </>
          )}
        </ProgressBar>
      ) : null}
      <ErrorText error={error} />
      <Button type="submit" className="button" isDisabled={busy}>
        Upload
      </Button>
    </Form>
  );
}
