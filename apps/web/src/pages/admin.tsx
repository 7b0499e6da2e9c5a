// Administration, for admins only: users, robots, upstream registries, retention rules, namespace
// quotas, garbage collection (a dry run to see what would go, a real run, and what each run freed),
// and the queue dashboard. The nav shows it to admins alone and a direct URL says it is refused, but
// neither is the protection: every call here is an admin route the server refuses to anyone else.
// The client path is /administration: /admin belongs to the server (the queue dashboard).
import { useEffect, useState, type ReactNode } from 'react';
import { useLocation } from 'react-router';
import { Button, Form, Input, Label, Link, TextField } from 'react-aria-components';
import type { GcRun } from '@stevedore/api-contract';
import { usePageTitle } from '../app';
import { formatBytes, formatTime } from '../format';
import type { Api } from '../api';
import { useSession } from '../session';
import { ActionButton, DataTable, Check } from '../parts';
import { type Outcome, LoadState, OutcomeText, messageOf } from '../feedback';
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

/**
 * What each section manages: its list, read through the session's client, and `act`, which runs a
 * change, says how it went, and reads the list again.
 */
function useSectionList<T>(say: Say, load: (api: Api) => Promise<T>) {
  const { api } = useSession();
  const [list, reload] = useList(() => load(api));
  const act = async (done: string, change: () => Promise<unknown>, failed: string): Promise<boolean> => {
    try {
      await change();
      say(true, done);
      return true;
    } catch (e) {
      say(false, messageOf(e, failed));
      return false;
    } finally {
      reload();
    }
  };
  return { api, list, reload, act };
}

/** A section of the page, named by its heading. */
function Section({ id, title, children }: { id: string; title: string; children: ReactNode }) {
  return (
    <section aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`}>{title}</h2>
      {children}
    </section>
  );
}

/** The list as a table with a caption for screen readers, or that it is loading, failed or empty. */
function ListTable<T>(props: { list: Loaded<T[]>; empty: string; caption: string; columns: string[]; row(item: T): ReactNode }) {
  const { list } = props;
  if (list.state !== 'done') return <LoadState loaded={list} failed={(e) => messageOf(e, 'This could not be read.')} />;
  if (!list.value.length) return <p className="hint">{props.empty}</p>;
  return (
    <DataTable caption={props.caption} columns={props.columns}>
      {list.value.map((item) => props.row(item))}
    </DataTable>
  );
}

/** A form in a panel, named by its heading, with one submit button. */
function PanelForm(props: { id: string; title: string; submit: string; onSubmit(): Promise<unknown>; children: ReactNode }) {
  return (
    <Form
      onSubmit={(e) => {
        e.preventDefault();
        void props.onSubmit();
      }}
      className="form panel"
      aria-labelledby={`${props.id}-heading`}
    >
      <h3 id={`${props.id}-heading`}>{props.title}</h3>
      {props.children}
      <Button type="submit" className="button">
        {props.submit}
      </Button>
    </Form>
  );
}

/** A form's values, and a way back to the first ones (all, or only some) once it did its work. */
function useFields<F extends Record<string, string | boolean>>(initial: F) {
  const [fields, setFields] = useState(initial);
  return {
    fields,
    set:
      <K extends keyof F>(key: K) =>
      (value: F[K]) =>
        setFields((f) => ({ ...f, [key]: value })),
    reset: (only?: Array<keyof F>) =>
      setFields((f) => (only ? { ...f, ...Object.fromEntries(only.map((k) => [k, initial[k]])) } : initial)),
  };
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
  const { session } = useSession();
  const { api, list: users, act } = useSectionList(say, (api) => api.users());
  const user = useFields({ name: '', password: '', admin: false });
  const pw = useFields({ who: '', password: '' });
  const { name, password, admin } = user.fields;
  const { who } = pw.fields;

  return (
    <Section id="users" title="Users">
      <ListTable
        list={users.state === 'done' ? { state: 'done', value: users.value.filter((u) => !u.robot) } : users}
        empty="No users."
        caption="Users"
        columns={['Name', 'Role', 'State', 'Created', 'Actions']}
        row={(u) => {
          // Yourself: the server refuses to disable or remove the account you are using.
          const self = u.name === session?.user;
          return (
            <tr key={u.name}>
              <td>{u.name}</td>
              <td>{u.admin ? 'admin' : 'user'}</td>
              <td>{u.disabled ? 'disabled' : 'enabled'}</td>
              <td>{formatTime(u.createdAt)}</td>
              <td className="actions">
                <ActionButton
                  label={u.disabled ? 'Enable' : 'Disable'}
                  target={u.name}
                  isDisabled={self}
                  onPress={() =>
                    void act(
                      `${u.disabled ? 'Enabled' : 'Disabled'} ${u.name}.`,
                      () => api.updateUser(u.name, { disabled: !u.disabled }),
                      'The user could not be changed.',
                    )
                  }
                />
                <ActionButton
                  label="Remove"
                  target={u.name}
                  isDisabled={self}
                  onPress={() => void act(`Removed ${u.name}.`, () => api.removeUser(u.name), 'The user could not be removed.')}
                />
              </td>
            </tr>
          );
        }}
      />
      <div className="panels">
        <PanelForm
          id="new-user"
          title="New user"
          submit="Create the user"
          onSubmit={async () => {
            if (await act(`Created ${name}.`, () => api.createUser(name, password, admin), 'The user could not be created.')) user.reset();
          }}
        >
          <Field label="User name" value={name} onChange={user.set('name')} isRequired />
          <Field label="Password" type="password" value={password} onChange={user.set('password')} isRequired />
          <Check isSelected={admin} onChange={user.set('admin')}>
            Administrator
          </Check>
        </PanelForm>
        <PanelForm
          id="password"
          title="Change a password"
          submit="Change the password"
          onSubmit={async () => {
            if (
              await act(
                `Changed the password of ${who}.`,
                () => api.updateUser(who, { password: pw.fields.password }),
                'The password could not be changed.',
              )
            )
              pw.reset();
          }}
        >
          <Field label="User" value={who} onChange={pw.set('who')} isRequired />
          <Field label="New password" type="password" value={pw.fields.password} onChange={pw.set('password')} isRequired />
        </PanelForm>
      </div>
    </Section>
  );
}

// ---- robots

function RobotsSection({ say }: { say: Say }) {
  const { api, list: robots, act } = useSectionList(say, (api) => api.robots());
  const robot = useFields({ name: '', repository: '', push: false });
  const { name, repository, push } = robot.fields;
  const [secret, setSecret] = useState<{ name: string; secret: string } | undefined>();

  return (
    <Section id="robots" title="Your robots">
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
      <ListTable
        list={robots}
        empty="You have no robots."
        caption="Robots"
        columns={['Name', 'May', 'State', 'Created', 'Actions']}
        row={(r) => (
          <tr key={r.name}>
            <td>{r.name}</td>
            <td>{(r.robotScopes ?? []).map((s) => `${s.actions.join(', ')} on ${s.repository}`).join('; ') || '—'}</td>
            <td>{r.disabled ? 'disabled' : 'enabled'}</td>
            <td>{formatTime(r.createdAt)}</td>
            <td>
              <ActionButton
                label="Remove"
                target={r.name}
                onPress={() => void act(`Removed the robot ${r.name}.`, () => api.removeRobot(r.name), 'The robot could not be removed.')}
              />
            </td>
          </tr>
        )}
      />
      <PanelForm
        id="new-robot"
        title="New robot"
        submit="Create the robot"
        onSubmit={() =>
          act(
            `Created the robot ${name}.`,
            async () => {
              const r = await api.createRobot(name, repository, push ? ['pull', 'push'] : ['pull']);
              setSecret({ name: r.name, secret: r.secret });
              robot.reset(['name', 'repository']);
            },
            'The robot could not be created.',
          )
        }
      >
        <Field
          label="Robot name"
          value={name}
          onChange={robot.set('name')}
          isRequired
          hint="Your user name, a dot, then a name: alice.ci"
        />
        <Field
          label="Repository"
          value={repository}
          onChange={robot.set('repository')}
          isRequired
          hint="A repository, or a namespace as alice/*"
        />
        <Check isSelected={push} onChange={robot.set('push')}>
          May push too (always may pull)
        </Check>
      </PanelForm>
    </Section>
  );
}

// ---- upstreams

function UpstreamsSection({ say }: { say: Say }) {
  const { api, list: upstreams, act } = useSectionList(say, (api) => api.upstreams());
  const upstream = useFields({ id: '', url: '', prefixes: '', isDefault: false });
  const { id, url, prefixes, isDefault } = upstream.fields;

  async function create() {
    const request = { id: id || undefined, url, prefixes: prefixes.split(/[\s,]+/).filter(Boolean), default: isDefault };
    if (await act(`Added the upstream ${url}.`, () => api.createUpstream(request), 'The upstream could not be added.')) upstream.reset();
  }

  return (
    <Section id="upstreams" title="Upstream registries">
      <ListTable
        list={upstreams}
        empty="No upstreams: images are only what was pushed here."
        caption="Upstream registries"
        columns={['ID', 'URL', 'Serves', 'Credentials', 'Actions']}
        row={(u) => (
          <tr key={u.id}>
            <td>{u.id}</td>
            <td>
              <code>{u.url}</code>
            </td>
            <td>{[...u.prefixes, ...(u.default ? ['everything else (default)'] : [])].join(', ') || '—'}</td>
            <td>{u.username ? `${u.username}${u.hasPassword ? ' (with password)' : ''}` : 'anonymous'}</td>
            <td>
              <ActionButton
                label="Remove"
                target={u.id}
                onPress={() =>
                  void act(`Removed the upstream ${u.id}.`, () => api.removeUpstream(u.id), 'The upstream could not be removed.')
                }
              />
            </td>
          </tr>
        )}
      />
      <PanelForm id="new-upstream" title="New upstream" submit="Add the upstream" onSubmit={create}>
        <Field label="ID (optional)" value={id} onChange={upstream.set('id')} hint="Lowercase letters, digits and dashes" />
        <Field label="URL" type="url" value={url} onChange={upstream.set('url')} isRequired hint="https://registry-1.docker.io" />
        <Field
          label="Repository prefixes it serves"
          value={prefixes}
          onChange={upstream.set('prefixes')}
          hint="Separated by spaces: library docker.io"
        />
        <Check isSelected={isDefault} onChange={upstream.set('isDefault')}>
          Default (serves names no prefix matches)
        </Check>
      </PanelForm>
    </Section>
  );
}

// ---- retention

function RetentionSection({ say }: { say: Say }) {
  const { api, list: rules, act } = useSectionList(say, (api) => api.retentionRules());
  const rule = useFields({ repository: '', keepLast: '', keepPattern: '', maxAgeDays: '' });
  const { repository, keepLast, keepPattern, maxAgeDays } = rule.fields;

  async function save() {
    const request = {
      repository,
      ...(keepLast ? { keepLast: Number(keepLast) } : {}),
      ...(keepPattern ? { keepPattern } : {}),
      ...(maxAgeDays ? { maxAgeDays: Number(maxAgeDays) } : {}),
    };
    if (await act(`Saved the retention rule of ${repository}.`, () => api.putRetentionRule(request), 'The rule could not be saved.'))
      rule.reset();
  }

  return (
    <Section id="retention" title="Retention rules">
      <p className="hint">Garbage collection deletes the tags a rule does not keep.</p>
      <ListTable
        list={rules}
        empty="No retention rules: every tag is kept."
        caption="Retention rules"
        columns={['Repositories', 'Keep the newest', 'Keep tags matching', 'Keep younger than', 'Actions']}
        row={(r) => (
          <tr key={r.repository}>
            <td>
              <code>{r.repository}</code>
            </td>
            <td>{r.keepLast ?? '—'}</td>
            <td>{r.keepPattern ? <code>{r.keepPattern}</code> : '—'}</td>
            <td>{r.maxAgeDays === undefined ? '—' : `${r.maxAgeDays} days`}</td>
            <td>
              <ActionButton
                label="Remove"
                target={`the rule of ${r.repository}`}
                onPress={() =>
                  void act(
                    `Removed the rule of ${r.repository}.`,
                    () => api.removeRetentionRule(r.repository),
                    'The rule could not be removed.',
                  )
                }
              />
            </td>
          </tr>
        )}
      />
      <PanelForm id="new-rule" title="Set a rule" submit="Save the rule" onSubmit={save}>
        <Field
          label="Repositories"
          value={repository}
          onChange={rule.set('repository')}
          isRequired
          hint="A name, or a pattern with *: alice/*"
        />
        <Field label="Keep the newest tags (count)" type="number" value={keepLast} onChange={rule.set('keepLast')} />
        <Field label="Keep tags matching (regular expression)" value={keepPattern} onChange={rule.set('keepPattern')} />
        <Field label="Keep tags younger than (days)" type="number" value={maxAgeDays} onChange={rule.set('maxAgeDays')} />
      </PanelForm>
    </Section>
  );
}

// ---- quotas

function QuotasSection({ say }: { say: Say }) {
  const { api, list: quotas, act } = useSectionList(say, (api) => api.quotas());
  const quota = useFields({ namespace: '', megabytes: '' });
  const { namespace, megabytes } = quota.fields;

  async function save() {
    const bytes = Math.round(Number(megabytes) * 1e6);
    if (
      await act(
        `Set the quota of ${namespace} to ${formatBytes(bytes)}.`,
        () => api.setQuota(namespace, bytes),
        'The quota could not be set.',
      )
    )
      quota.reset();
  }

  return (
    <Section id="quotas" title="Quotas">
      <ListTable
        list={quotas}
        empty="No namespace stores anything yet."
        caption="Namespaces: used and limit"
        columns={['Namespace', 'Used', 'Limit', 'Actions']}
        row={(q) => (
          <tr key={q.namespace}>
            <td>{q.namespace}</td>
            <td>{formatBytes(q.usedBytes)}</td>
            <td>{q.limitBytes === undefined ? 'none' : formatBytes(q.limitBytes)}</td>
            <td>
              {q.limitBytes !== undefined ? (
                <ActionButton
                  label="Remove the limit"
                  target={`of ${q.namespace}`}
                  onPress={() =>
                    void act(`Removed the limit of ${q.namespace}.`, () => api.removeQuota(q.namespace), 'The limit could not be removed.')
                  }
                />
              ) : null}
            </td>
          </tr>
        )}
      />
      <PanelForm id="new-quota" title="Set a limit" submit="Set the limit" onSubmit={save}>
        <Field label="Namespace" value={namespace} onChange={quota.set('namespace')} isRequired hint="A user's namespace: alice" />
        <Field label="Limit (MB)" type="number" value={megabytes} onChange={quota.set('megabytes')} isRequired />
      </PanelForm>
    </Section>
  );
}

// ---- garbage collection

function GcSection({ say }: { say: Say }) {
  const { api, list: runs, reload, act } = useSectionList(say, (api) => api.gcRuns());
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
    await act(
      dryRun ? 'Started a dry run: it reports what a run would free and deletes nothing.' : 'Started a garbage collection run.',
      () => api.runGc(dryRun),
      'The run could not be started.',
    );
    setBusy(false);
  }

  return (
    <Section id="gc" title="Garbage collection">
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
      <ListTable
        list={runs}
        empty="No runs yet."
        caption="Garbage collection runs, newest first, with what each freed"
        columns={['Queued', 'Kind', 'State', 'Freed', 'Deleted', 'Took']}
        row={(r) => <GcRunRow key={r.id} run={r} />}
      />
    </Section>
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
