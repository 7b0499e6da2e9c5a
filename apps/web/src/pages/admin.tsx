// Administration, for admins only: users, robots, upstream registries, retention rules, namespace
// quotas, garbage collection (a dry run to see what would go, a real run, and what each run freed),
// and the queue dashboard. The nav shows it to admins alone and a direct URL says it is refused, but
// neither is the protection: every call here is an admin route the server refuses to anyone else.
// The client path is /administration: /admin belongs to the server (the queue dashboard).
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { useLocation } from 'react-router';
import { Button, Checkbox, Form, Input, Label, Link, TextField } from 'react-aria-components';
import type { GcRun } from '@stevedore/api-contract';
import { usePageTitle } from '../app';
import { formatBytes, formatTime } from '../format';
import { useSession } from '../session';
import { type Outcome, OutcomeText, messageOf } from '../feedback';
import type { Loaded } from '../use-load';

export const ADMIN_PATH = '/administration';
/** Bull Board (libs/server queue-dashboard.ts); it takes Basic credentials, not the page's session. */
export const QUEUE_DASHBOARD = '/admin/queues';
const GC_REFRESH_MS = 1500;

const SECTIONS = [
  { id: 'users', label: 'Users' },
  { id: 'robots', label: 'Robots' },
  { id: 'upstreams', label: 'Upstreams' },
  { id: 'retention', label: 'Retention' },
  { id: 'quotas', label: 'Quotas' },
  { id: 'gc', label: 'Garbage collection' },
] as const;
type SectionId = (typeof SECTIONS)[number]['id'];

type Say = (ok: boolean, text: string) => void;

export function AdminPage() {
  const section = (useLocation()
    .pathname.slice(ADMIN_PATH.length + 1)
    .split('/')[0] || 'users') as SectionId;
  const current = SECTIONS.find((s) => s.id === section);
  usePageTitle(`Administration: ${current?.label ?? 'not found'}`);
  const { session } = useSession();
  const [message, setMessage] = useState<Outcome | undefined>();
  useEffect(() => setMessage(undefined), [section]);
  const say: Say = (ok, text) => setMessage({ ok, text });

  if (session === undefined) return <p role="status">Loading…</p>;
  if (!session?.admin)
    return (
      <>
        <h1>Administration</h1>
        <p role="alert" className="error">
          {session ? 'Only administrators may see this page.' : 'Sign in as an administrator to see this page.'}
        </p>
      </>
    );
  return (
    <>
      <h1>Administration</h1>
      <nav aria-label="Administration" className="tabs">
        {SECTIONS.map((s) => (
          <Link key={s.id} href={`${ADMIN_PATH}/${s.id}`} aria-current={s.id === section ? 'page' : undefined}>
            {s.label}
          </Link>
        ))}
        <a href={QUEUE_DASHBOARD}>Queue dashboard</a>
      </nav>
      <OutcomeText outcome={message} />
      {section === 'users' ? <UsersSection say={say} /> : null}
      {section === 'robots' ? <RobotsSection say={say} /> : null}
      {section === 'upstreams' ? <UpstreamsSection say={say} /> : null}
      {section === 'retention' ? <RetentionSection say={say} /> : null}
      {section === 'quotas' ? <QuotasSection say={say} /> : null}
      {section === 'gc' ? <GcSection say={say} /> : null}
      {!current ? <p role="alert">There is no such section.</p> : null}
      <p className="hint">
        The <a href={QUEUE_DASHBOARD}>queue dashboard</a> (Bull Board) shows every queue's jobs; it asks for your user name and password, as
        it does not take this page's session.
      </p>
    </>
  );
}

/**
 * A list that is read again after each change made through the section. The last answer stays
 * while the next is read, so a list refreshed under a running GC does not blink.
 */
function useList<T>(load: () => Promise<T>): [Loaded<T>, () => void] {
  const { api } = useSession();
  const [generation, setGeneration] = useState(0);
  const [value, setValue] = useState<Loaded<T>>({ state: 'loading' });
  useEffect(() => {
    let current = true;
    load().then(
      (v) => current && setValue({ state: 'done', value: v }),
      (error: Error) => current && setValue({ state: 'failed', error }),
    );
    return () => {
      current = false;
    };
    // Read again when the client changes or a change was made.
  }, [api, generation]);
  return [value, () => setGeneration((g) => g + 1)];
}

/** Runs a change, says how it went, and reads the list again. */
function useAct(say: Say, reload: () => void) {
  return async (done: string, act: () => Promise<unknown>, failed: string): Promise<boolean> => {
    try {
      await act();
      say(true, done);
      return true;
    } catch (e) {
      say(false, messageOf(e, failed));
      return false;
    } finally {
      reload();
    }
  };
}

function Listing<T>({ list, empty, children }: { list: Loaded<T[]>; empty: string; children: (items: T[]) => ReactNode }) {
  if (list.state === 'loading') return <p role="status">Loading…</p>;
  if (list.state === 'failed')
    return (
      <p role="alert" className="error">
        {messageOf(list.error, 'This could not be read.')}
      </p>
    );
  return list.value.length ? <>{children(list.value)}</> : <p className="hint">{empty}</p>;
}

function Field(props: { label: string; value: string; onChange(v: string): void; type?: string; isRequired?: boolean; hint?: string }) {
  return (
    <TextField value={props.value} onChange={props.onChange} type={props.type} isRequired={props.isRequired}>
      <Label>{props.label}</Label>
      <Input />
      {props.hint ? (
        <span className="hint" slot="description">
          {props.hint}
        </span>
      ) : null}
    </TextField>
  );
}

// ---- users

function UsersSection({ say }: { say: Say }) {
  const { api, session } = useSession();
  const [users, reload] = useList(() => api.users());
  const act = useAct(say, reload);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [admin, setAdmin] = useState(false);
  const [who, setWho] = useState('');
  const [newPassword, setNewPassword] = useState('');

  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (await act(`Created ${name}.`, () => api.createUser(name, password, admin), 'The user could not be created.')) {
      setName('');
      setPassword('');
      setAdmin(false);
    }
  }
  async function changePassword(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (
      await act(
        `Changed the password of ${who}.`,
        () => api.updateUser(who, { password: newPassword }),
        'The password could not be changed.',
      )
    ) {
      setWho('');
      setNewPassword('');
    }
  }

  return (
    <section aria-labelledby="users-heading">
      <h2 id="users-heading">Users</h2>
      <Listing list={users.state === 'done' ? { state: 'done', value: users.value.filter((u) => !u.robot) } : users} empty="No users.">
        {(items) => (
          <table className="table">
            <caption className="visually-hidden">Users</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">State</th>
                <th scope="col">Created</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {items.map((u) => {
                const self = u.name === session?.user;
                return (
                  <tr key={u.name}>
                    <td>{u.name}</td>
                    <td>{u.admin ? 'admin' : 'user'}</td>
                    <td>{u.disabled ? 'disabled' : 'enabled'}</td>
                    <td>{formatTime(u.createdAt)}</td>
                    <td className="actions">
                      {/* Yourself: the server refuses to disable or remove the account you are using. */}
                      <Button
                        className="button secondary"
                        isDisabled={self}
                        onPress={() =>
                          void act(
                            `${u.disabled ? 'Enabled' : 'Disabled'} ${u.name}.`,
                            () => api.updateUser(u.name, { disabled: !u.disabled }),
                            'The user could not be changed.',
                          )
                        }
                      >
                        {u.disabled ? 'Enable' : 'Disable'} <span className="visually-hidden">{u.name}</span>
                      </Button>
                      <Button
                        className="button secondary"
                        isDisabled={self}
                        onPress={() => void act(`Removed ${u.name}.`, () => api.removeUser(u.name), 'The user could not be removed.')}
                      >
                        Remove <span className="visually-hidden">{u.name}</span>
                      </Button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Listing>
      <div className="panels">
        <Form onSubmit={create} className="form panel" aria-labelledby="new-user-heading">
          <h3 id="new-user-heading">New user</h3>
          <Field label="User name" value={name} onChange={setName} isRequired />
          <Field label="Password" type="password" value={password} onChange={setPassword} isRequired />
          <Checkbox isSelected={admin} onChange={setAdmin} className="checkbox">
            <span className="box" aria-hidden="true" />
            Administrator
          </Checkbox>
          <Button type="submit" className="button">
            Create the user
          </Button>
        </Form>
        <Form onSubmit={changePassword} className="form panel" aria-labelledby="password-heading">
          <h3 id="password-heading">Change a password</h3>
          <Field label="User" value={who} onChange={setWho} isRequired />
          <Field label="New password" type="password" value={newPassword} onChange={setNewPassword} isRequired />
          <Button type="submit" className="button">
            Change the password
          </Button>
        </Form>
      </div>
    </section>
  );
}

// ---- robots

function RobotsSection({ say }: { say: Say }) {
  const { api } = useSession();
  const [robots, reload] = useList(() => api.robots());
  const act = useAct(say, reload);
  const [name, setName] = useState('');
  const [repository, setRepository] = useState('');
  const [push, setPush] = useState(false);
  const [secret, setSecret] = useState<{ name: string; secret: string } | undefined>();

  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    await act(
      `Created the robot ${name}.`,
      async () => {
        const r = await api.createRobot(name, repository, push ? ['pull', 'push'] : ['pull']);
        setSecret({ name: r.name, secret: r.secret });
        setName('');
        setRepository('');
      },
      'The robot could not be created.',
    );
  }

  return (
    <section aria-labelledby="robots-heading">
      <h2 id="robots-heading">Your robots</h2>
      {secret ? (
        <div className="notice">
          <p>
            The secret of <strong>{secret.name}</strong>, shown this once (only its hash is kept):
          </p>
          <pre className="command">
            <code>{secret.secret}</code>
          </pre>
        </div>
      ) : null}
      <Listing list={robots} empty="You have no robots.">
        {(items) => (
          <table className="table">
            <caption className="visually-hidden">Robots</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">May</th>
                <th scope="col">State</th>
                <th scope="col">Created</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.name}>
                  <td>{r.name}</td>
                  <td>{(r.robotScopes ?? []).map((s) => `${s.actions.join(', ')} on ${s.repository}`).join('; ') || '—'}</td>
                  <td>{r.disabled ? 'disabled' : 'enabled'}</td>
                  <td>{formatTime(r.createdAt)}</td>
                  <td>
                    <Button
                      className="button secondary"
                      onPress={() =>
                        void act(`Removed the robot ${r.name}.`, () => api.removeRobot(r.name), 'The robot could not be removed.')
                      }
                    >
                      Remove <span className="visually-hidden">{r.name}</span>
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Listing>
      <Form onSubmit={create} className="form panel" aria-labelledby="new-robot-heading">
        <h3 id="new-robot-heading">New robot</h3>
        <Field label="Robot name" value={name} onChange={setName} isRequired hint="Your user name, a dot, then a name: alice.ci" />
        <Field label="Repository" value={repository} onChange={setRepository} isRequired hint="A repository, or a namespace as alice/*" />
        <Checkbox isSelected={push} onChange={setPush} className="checkbox">
          <span className="box" aria-hidden="true" />
          May push too (always may pull)
        </Checkbox>
        <Button type="submit" className="button">
          Create the robot
        </Button>
      </Form>
    </section>
  );
}

// ---- upstreams

function UpstreamsSection({ say }: { say: Say }) {
  const { api } = useSession();
  const [upstreams, reload] = useList(() => api.upstreams());
  const act = useAct(say, reload);
  const [id, setId] = useState('');
  const [url, setUrl] = useState('');
  const [prefixes, setPrefixes] = useState('');
  const [isDefault, setDefault] = useState(false);

  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const request = { id: id || undefined, url, prefixes: prefixes.split(/[\s,]+/).filter(Boolean), default: isDefault };
    if (await act(`Added the upstream ${url}.`, () => api.createUpstream(request), 'The upstream could not be added.')) {
      setId('');
      setUrl('');
      setPrefixes('');
      setDefault(false);
    }
  }

  return (
    <section aria-labelledby="upstreams-heading">
      <h2 id="upstreams-heading">Upstream registries</h2>
      <Listing list={upstreams} empty="No upstreams: images are only what was pushed here.">
        {(items) => (
          <table className="table">
            <caption className="visually-hidden">Upstream registries</caption>
            <thead>
              <tr>
                <th scope="col">ID</th>
                <th scope="col">URL</th>
                <th scope="col">Serves</th>
                <th scope="col">Credentials</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {items.map((u) => (
                <tr key={u.id}>
                  <td>{u.id}</td>
                  <td>
                    <code>{u.url}</code>
                  </td>
                  <td>{[...u.prefixes, ...(u.default ? ['everything else (default)'] : [])].join(', ') || '—'}</td>
                  <td>{u.username ? `${u.username}${u.hasPassword ? ' (with password)' : ''}` : 'anonymous'}</td>
                  <td>
                    <Button
                      className="button secondary"
                      onPress={() =>
                        void act(`Removed the upstream ${u.id}.`, () => api.removeUpstream(u.id), 'The upstream could not be removed.')
                      }
                    >
                      Remove <span className="visually-hidden">{u.id}</span>
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Listing>
      <Form onSubmit={create} className="form panel" aria-labelledby="new-upstream-heading">
        <h3 id="new-upstream-heading">New upstream</h3>
        <Field label="ID (optional)" value={id} onChange={setId} hint="Lowercase letters, digits and dashes" />
        <Field label="URL" type="url" value={url} onChange={setUrl} isRequired hint="https://registry-1.docker.io" />
        <Field
          label="Repository prefixes it serves"
          value={prefixes}
          onChange={setPrefixes}
          hint="Separated by spaces: library docker.io"
        />
        <Checkbox isSelected={isDefault} onChange={setDefault} className="checkbox">
          <span className="box" aria-hidden="true" />
          Default (serves names no prefix matches)
        </Checkbox>
        <Button type="submit" className="button">
          Add the upstream
        </Button>
      </Form>
    </section>
  );
}

// ---- retention

function RetentionSection({ say }: { say: Say }) {
  const { api } = useSession();
  const [rules, reload] = useList(() => api.retentionRules());
  const act = useAct(say, reload);
  const [repository, setRepository] = useState('');
  const [keepLast, setKeepLast] = useState('');
  const [keepPattern, setKeepPattern] = useState('');
  const [maxAgeDays, setMaxAgeDays] = useState('');

  async function save(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const rule = {
      repository,
      ...(keepLast ? { keepLast: Number(keepLast) } : {}),
      ...(keepPattern ? { keepPattern } : {}),
      ...(maxAgeDays ? { maxAgeDays: Number(maxAgeDays) } : {}),
    };
    if (await act(`Saved the retention rule of ${repository}.`, () => api.putRetentionRule(rule), 'The rule could not be saved.')) {
      setRepository('');
      setKeepLast('');
      setKeepPattern('');
      setMaxAgeDays('');
    }
  }

  return (
    <section aria-labelledby="retention-heading">
      <h2 id="retention-heading">Retention rules</h2>
      <p className="hint">Garbage collection deletes the tags a rule does not keep.</p>
      <Listing list={rules} empty="No retention rules: every tag is kept.">
        {(items) => (
          <table className="table">
            <caption className="visually-hidden">Retention rules</caption>
            <thead>
              <tr>
                <th scope="col">Repositories</th>
                <th scope="col">Keep the newest</th>
                <th scope="col">Keep tags matching</th>
                <th scope="col">Keep younger than</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.repository}>
                  <td>
                    <code>{r.repository}</code>
                  </td>
                  <td>{r.keepLast ?? '—'}</td>
                  <td>{r.keepPattern ? <code>{r.keepPattern}</code> : '—'}</td>
                  <td>{r.maxAgeDays === undefined ? '—' : `${r.maxAgeDays} days`}</td>
                  <td>
                    <Button
                      className="button secondary"
                      onPress={() =>
                        void act(
                          `Removed the rule of ${r.repository}.`,
                          () => api.removeRetentionRule(r.repository),
                          'The rule could not be removed.',
                        )
                      }
                    >
                      Remove <span className="visually-hidden">the rule of {r.repository}</span>
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Listing>
      <Form onSubmit={save} className="form panel" aria-labelledby="new-rule-heading">
        <h3 id="new-rule-heading">Set a rule</h3>
        <Field label="Repositories" value={repository} onChange={setRepository} isRequired hint="A name, or a pattern with *: alice/*" />
        <Field label="Keep the newest tags (count)" type="number" value={keepLast} onChange={setKeepLast} />
        <Field label="Keep tags matching (regular expression)" value={keepPattern} onChange={setKeepPattern} />
        <Field label="Keep tags younger than (days)" type="number" value={maxAgeDays} onChange={setMaxAgeDays} />
        <Button type="submit" className="button">
          Save the rule
        </Button>
      </Form>
    </section>
  );
}

// ---- quotas

function QuotasSection({ say }: { say: Say }) {
  const { api } = useSession();
  const [quotas, reload] = useList(() => api.quotas());
  const act = useAct(say, reload);
  const [namespace, setNamespace] = useState('');
  const [megabytes, setMegabytes] = useState('');

  async function save(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const bytes = Math.round(Number(megabytes) * 1e6);
    if (
      await act(
        `Set the quota of ${namespace} to ${formatBytes(bytes)}.`,
        () => api.setQuota(namespace, bytes),
        'The quota could not be set.',
      )
    ) {
      setNamespace('');
      setMegabytes('');
    }
  }

  return (
    <section aria-labelledby="quotas-heading">
      <h2 id="quotas-heading">Quotas</h2>
      <Listing list={quotas} empty="No namespace stores anything yet.">
        {(items) => (
          <table className="table">
            <caption className="visually-hidden">Namespaces: used and limit</caption>
            <thead>
              <tr>
                <th scope="col">Namespace</th>
                <th scope="col">Used</th>
                <th scope="col">Limit</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {items.map((q) => (
                <tr key={q.namespace}>
                  <td>{q.namespace}</td>
                  <td>{formatBytes(q.usedBytes)}</td>
                  <td>{q.limitBytes === undefined ? 'none' : formatBytes(q.limitBytes)}</td>
                  <td>
                    {q.limitBytes !== undefined ? (
                      <Button
                        className="button secondary"
                        onPress={() =>
                          void act(
                            `Removed the limit of ${q.namespace}.`,
                            () => api.removeQuota(q.namespace),
                            'The limit could not be removed.',
                          )
                        }
                      >
                        Remove the limit <span className="visually-hidden">of {q.namespace}</span>
                      </Button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Listing>
      <Form onSubmit={save} className="form panel" aria-labelledby="new-quota-heading">
        <h3 id="new-quota-heading">Set a limit</h3>
        <Field label="Namespace" value={namespace} onChange={setNamespace} isRequired hint="A user's namespace: alice" />
        <Field label="Limit (MB)" type="number" value={megabytes} onChange={setMegabytes} isRequired />
        <Button type="submit" className="button">
          Set the limit
        </Button>
      </Form>
    </section>
  );
}

// ---- garbage collection

function GcSection({ say }: { say: Say }) {
  const { api } = useSession();
  const [runs, reload] = useList(() => api.gcRuns());
  const [busy, setBusy] = useState(false);
  // Waiting or active only: the GC schedule keeps its next run delayed, which must not block a run now.
  const running = runs.state === 'done' && runs.value.some((r) => r.state === 'active' || r.state === 'waiting');
  useEffect(() => {
    if (!running) return;
    const t = setTimeout(reload, GC_REFRESH_MS);
    return () => clearTimeout(t);
  }, [running, runs]);

  async function run(dryRun: boolean) {
    setBusy(true);
    try {
      await api.runGc(dryRun);
      say(true, dryRun ? 'Started a dry run: it reports what a run would free and deletes nothing.' : 'Started a garbage collection run.');
    } catch (e) {
      say(false, messageOf(e, 'The run could not be started.'));
    } finally {
      setBusy(false);
      reload();
    }
  }

  return (
    <section aria-labelledby="gc-heading">
      <h2 id="gc-heading">Garbage collection</h2>
      <p className="hint">
        A run deletes the tags retention rules do not keep, untagged manifests past their age, blobs nothing refers to, stale uploads and
        container contents no container needs. A dry run reports the same and deletes nothing.
      </p>
      <div className="actions">
        <Button className="button" isDisabled={busy || running} onPress={() => void run(true)}>
          Dry run
        </Button>
        <Button className="button danger" isDisabled={busy || running} onPress={() => void run(false)}>
          Run garbage collection
        </Button>
      </div>
      <h3>Runs</h3>
      <Listing list={runs} empty="No runs yet.">
        {(items) => (
          <table className="table">
            <caption className="visually-hidden">Garbage collection runs, newest first, with what each freed</caption>
            <thead>
              <tr>
                <th scope="col">Queued</th>
                <th scope="col">Kind</th>
                <th scope="col">State</th>
                <th scope="col">Freed</th>
                <th scope="col">Deleted</th>
                <th scope="col">Took</th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <GcRunRow key={r.id} run={r} />
              ))}
            </tbody>
          </table>
        )}
      </Listing>
    </section>
  );
}

function GcRunRow({ run }: { run: GcRun }) {
  const report = run.result;
  const deleted = report
    ? [
        `${report.retention.tagsDeleted} tags`,
        `${report.manifests.deleted} manifests`,
        `${report.blobs.deleted} blobs`,
        `${report.uploads.sessions} uploads`,
        ...(report.containers ? [`${report.containers.content.deleted} container files`] : []),
      ].join(', ')
    : '—';
  return (
    <tr>
      <td>{formatTime(run.createdAt)}</td>
      <td>{run.request.dryRun ? 'dry run' : run.request.scheduled ? 'scheduled' : 'run'}</td>
      <td>
        {/* The schedule keeps its next run delayed until it is due. */}
        {run.state === 'delayed' && run.request.scheduled ? 'next scheduled run' : run.state}
        {run.progress && run.state === 'active' ? ` (${run.progress.phase})` : ''}
        {run.error ? <span className="error"> {run.error.message}</span> : null}
      </td>
      <td>{report ? `${formatBytes(report.bytesFreed)}${report.dryRun ? ' (would free)' : ''}` : '—'}</td>
      <td>{report ? `${deleted}${report.dryRun ? ' (would delete)' : ''}` : '—'}</td>
      <td>{report ? `${(report.durationMs / 1000).toFixed(1)} s` : '—'}</td>
    </tr>
  );
}
