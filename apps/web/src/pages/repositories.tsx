// Repositories the caller may pull (public ones for anonymous visitors), filtered by name on the
// page; more are read page by page.
import { useEffect, useState } from 'react';
import { Button, Input, Label, Link, SearchField } from 'react-aria-components';
import type { RepositorySummary } from '../api';
import { usePageTitle } from '../app';
import { formatTime } from '../format';
import { useSession } from '../session';

export function RepositoriesPage() {
  usePageTitle('Repositories');
  const { api, session } = useSession();
  const [items, setItems] = useState<RepositorySummary[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [state, setState] = useState<'loading' | 'done' | 'failed'>('loading');
  const [filter, setFilter] = useState('');

  async function load(cursor?: string) {
    setState('loading');
    try {
      const page = await api.repositories(cursor);
      setItems((before) => merge(cursor ? before : [], page.items));
      setNext(page.next);
      setState('done');
    } catch {
      setState('failed');
    }
  }

  useEffect(() => {
    if (session !== undefined) void load();
    // Reload when who is signed in changes.
  }, [session?.user, session === undefined]);

  const shown = items.filter((r) => r.name.includes(filter.trim()));
  return (
    <>
      <h1>Repositories</h1>
      {session === null ? <p className="hint">You are not signed in: these are the public repositories.</p> : null}
      <SearchField value={filter} onChange={setFilter} className="search">
        <Label>Filter by name</Label>
        <Input />
      </SearchField>
      {state === 'failed' ? (
        <p role="alert" className="error">
          The repositories could not be read. Reload the page to try again.
        </p>
      ) : null}
      <table className="table">
        <caption className="visually-hidden">Repositories you may pull</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Tags</th>
            <th scope="col">Newest image created</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((r) => (
            <tr key={r.name}>
              <td>
                <Link href={`/r/${r.name}`}>{r.name}</Link>
              </td>
              <td>{r.tags}</td>
              <td>{formatTime(r.newest)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p role="status" className="hint">
        {state === 'loading' ? 'Loading…' : `${shown.length} ${shown.length === 1 ? 'repository' : 'repositories'}`}
      </p>
      {next ? (
        <Button className="button secondary" onPress={() => load(next)} isDisabled={state === 'loading'}>
          Load more
        </Button>
      ) : null}
    </>
  );
}

/** Pages of rows may split a repository: add up its counts. */
function merge(before: RepositorySummary[], page: RepositorySummary[]): RepositorySummary[] {
  const byName = new Map(before.map((r) => [r.name, { ...r }]));
  for (const r of page) {
    const had = byName.get(r.name);
    if (!had) byName.set(r.name, { ...r });
    else {
      had.tags += r.tags;
      if (r.newest && (!had.newest || r.newest > had.newest)) had.newest = r.newest;
    }
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}
