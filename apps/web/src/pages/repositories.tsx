// Repositories the caller may pull (public ones for anonymous visitors), from the server's
// repository index: searched by name and sorted there, read a page at a time.
import { useEffect, useRef, useState } from 'react';
import { Button, Input, Label, Link, SearchField } from 'react-aria-components';
import type { RepositorySummary } from '@stevedore/api-contract';
import type { RepositorySort } from '../api';
import { usePageTitle } from '../app';
import { formatTime } from '../format';
import { useSession } from '../session';
import { DataTable, Choice } from '../parts';

const SORTS: { id: RepositorySort; label: string }[] = [
  { id: 'name', label: 'Name' },
  { id: 'pushed', label: 'Last push' },
  { id: 'pulls', label: 'Pulls' },
];

/** Typing waits this long before the server is asked (a search per keystroke would be wasted). */
const SEARCH_DELAY_MS = 250;

export function RepositoriesPage() {
  usePageTitle('Repositories');
  const { api, session } = useSession();
  const [items, setItems] = useState<RepositorySummary[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [state, setState] = useState<'loading' | 'done' | 'failed'>('loading');
  const [search, setSearch] = useState('');
  const [query, setQuery] = useState('');
  const [sort, setSort] = useState<RepositorySort>('name');
  // Answers that arrive after a newer request was made are dropped.
  const generation = useRef(0);

  async function load(cursor?: string) {
    const mine = ++generation.current;
    setState('loading');
    try {
      const page = await api.repositories({ q: query.trim(), sort, cursor });
      if (mine !== generation.current) return;
      setItems((before) => (cursor ? [...before, ...page.items] : page.items));
      setNext(page.next);
      setState('done');
    } catch {
      if (mine === generation.current) setState('failed');
    }
  }

  useEffect(() => {
    const t = setTimeout(() => setQuery(search), SEARCH_DELAY_MS);
    return () => clearTimeout(t);
  }, [search]);

  useEffect(() => {
    if (session !== undefined) void load();
    // Reload when who is signed in, the search or the order changes.
  }, [session?.user, session === undefined, query, sort]);

  return (
    <>
      <h1>Repositories</h1>
      {session === null ? <p className="hint">You are not signed in: these are the public repositories.</p> : null}
      <div className="toolbar">
        <SearchField value={search} onChange={setSearch} className="search">
          <Label>Search by name</Label>
          <Input />
        </SearchField>
        <Choice label="Sort by" options={SORTS} value={sort} onChange={setSort} />
      </div>
      {state === 'failed' ? (
        <p role="alert" className="error">
          The repositories could not be read. Reload the page to try again.
        </p>
      ) : null}
      <DataTable caption="Repositories you may pull" columns={['Name', 'Tags', 'Last push', 'Pulls']}>
        {items.map((r) => (
          <tr key={r.name}>
            <td>
              <Link href={`/r/${r.name}`}>{r.name}</Link>
            </td>
            <td>{r.tags}</td>
            <td>{formatTime(r.lastPush)}</td>
            <td>{r.pulls}</td>
          </tr>
        ))}
      </DataTable>
      <p role="status" className="hint">
        {state === 'loading'
          ? 'Loading…'
          : `${items.length}${next ? '+' : ''} ${items.length === 1 && !next ? 'repository' : 'repositories'}`}
      </p>
      {next ? (
        <Button className="button secondary" onPress={() => load(next)} isDisabled={state === 'loading'}>
          Load more
        </Button>
      ) : null}
    </>
  );
}
