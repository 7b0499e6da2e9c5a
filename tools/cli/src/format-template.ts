// A small subset of Go's text/template, enough for `docker inspect --format`: field paths
// (`{{.Config.Cmd}}`, `{{.}}`, `{{$.Id}}`), functions json, index, join, len, upper, lower, title,
// split, println, pipelines (`{{.Config | json}}`), `{{range}}`, `{{if}}/{{else}}`, `{{end}}` and
// the `{{-` / `-}}` trim markers. Values print as Go prints them: `[a b]` for lists, `map[k:v]`.
import { CliError } from './errors';

type Arg =
  | { kind: 'field'; root: boolean; path: string[] }
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'ident'; name: string };
type Command = Arg[];
type Pipeline = Command[];

type Node =
  | { type: 'text'; text: string }
  | { type: 'action'; pipe: Pipeline }
  | { type: 'range'; pipe: Pipeline; body: Node[]; elseBody: Node[] }
  | { type: 'if'; pipe: Pipeline; body: Node[]; elseBody: Node[] };

function fail(message: string): never {
  throw new CliError(`template: ${message}`, 'FORMAT_INVALID', 'see `stevedore inspect --help` for the template syntax');
}

function tokenizeAction(src: string): Arg[][] {
  const commands: Arg[][] = [[]];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '|') {
      commands.push([]);
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
      if (j >= src.length) fail(`unterminated string in "${src}"`);
      commands[commands.length - 1].push({ kind: 'string', value: JSON.parse(src.slice(i, j + 1)) as string });
      i = j + 1;
    } else if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) fail(`unterminated raw string in "${src}"`);
      commands[commands.length - 1].push({ kind: 'string', value: src.slice(i + 1, j) });
      i = j + 1;
    } else {
      let j = i;
      while (j < src.length && !/[\s|]/.test(src[j])) j++;
      const word = src.slice(i, j);
      i = j;
      const cmd = commands[commands.length - 1];
      if (word === '.' || word === '$') cmd.push({ kind: 'field', root: word === '$', path: [] });
      else if (word.startsWith('.') || word.startsWith('$.')) {
        const root = word.startsWith('$');
        const path = (root ? word.slice(2) : word.slice(1)).split('.');
        if (path.some((p) => !p)) fail(`bad field path "${word}"`);
        cmd.push({ kind: 'field', root, path });
      } else if (/^-?\d+(\.\d+)?$/.test(word)) cmd.push({ kind: 'number', value: Number(word) });
      else if (/^[A-Za-z_]\w*$/.test(word)) cmd.push({ kind: 'ident', name: word });
      else fail(`unexpected "${word}"`);
    }
  }
  if (commands.some((c) => c.length === 0)) fail(`empty command in "{{${src}}}"`);
  return commands;
}

export function parseTemplate(template: string): Node[] {
  // Split into text and actions, applying the trim markers.
  const parts: Array<{ text: string } | { action: string }> = [];
  let i = 0;
  let trimNext = false;
  while (i < template.length) {
    const open = template.indexOf('{{', i);
    let text = open < 0 ? template.slice(i) : template.slice(i, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (open < 0) {
      if (text) parts.push({ text });
      break;
    }
    let start = open + 2;
    if (template.startsWith('- ', start) || template.startsWith('-\t', start) || template.startsWith('-\n', start)) {
      text = text.replace(/\s+$/, '');
      start += 1;
    }
    if (text) parts.push({ text });
    const close = template.indexOf('}}', start);
    if (close < 0) fail('unclosed action: missing "}}"');
    let inner = template.slice(start, close);
    trimNext = false;
    if (/\s-$/.test(inner)) {
      inner = inner.slice(0, -1);
      trimNext = true;
    }
    parts.push({ action: inner.trim() });
    i = close + 2;
  }

  let pos = 0;
  const parseList = (terminators: string[]): { nodes: Node[]; end: string } => {
    const nodes: Node[] = [];
    while (pos < parts.length) {
      const p = parts[pos++];
      if ('text' in p) {
        nodes.push({ type: 'text', text: p.text });
        continue;
      }
      const a = p.action;
      if (a.startsWith('/*')) continue; // comment
      const keyword = a.split(/\s+/, 1)[0];
      if (keyword === 'end' || keyword === 'else') {
        if (!terminators.includes(keyword)) fail(`unexpected {{${keyword}}}`);
        return { nodes, end: keyword };
      }
      if (keyword === 'range' || keyword === 'if') {
        const pipe = tokenizeAction(a.slice(keyword.length));
        const body = parseList(['end', 'else']);
        let elseBody: Node[] = [];
        if (body.end === 'else') elseBody = parseList(['end']).nodes;
        nodes.push({ type: keyword, pipe, body: body.nodes, elseBody });
        continue;
      }
      nodes.push({ type: 'action', pipe: tokenizeAction(a) });
    }
    if (terminators.length) fail(`missing {{end}}`);
    return { nodes, end: '' };
  };
  return parseList([]).nodes;
}

const MISSING = Symbol('no value');

function field(value: unknown, path: string[]): unknown {
  let v: unknown = value;
  for (const key of path) {
    if (v === null || v === undefined || v === MISSING) return MISSING;
    if (typeof v !== 'object') fail(`can't evaluate field ${key} in type ${typeof v}`);
    const o = v as Record<string, unknown>;
    if (key in o) v = o[key];
    else {
      // Docker's Go structs are matched exactly; be lenient with a field spelled in another case.
      const k = Object.keys(o).find((x) => x.toLowerCase() === key.toLowerCase());
      v = k === undefined ? MISSING : o[k];
    }
  }
  return v;
}

/** How Go's fmt prints a value with %v. */
export function goString(v: unknown): string {
  if (v === MISSING || v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `map[${Object.keys(o)
      .sort()
      .map((k) => `${k}:${goString(o[k])}`)
      .join(' ')}]`;
  }
  return String(v);
}

function truthy(v: unknown): boolean {
  if (v === MISSING || v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

const FUNCS: Record<string, (...args: unknown[]) => unknown> = {
  json: (v) => JSON.stringify(v === MISSING ? null : v),
  index: (v, ...keys) => {
    let cur = v;
    for (const k of keys) {
      if (cur === null || cur === undefined || cur === MISSING) return MISSING;
      if (Array.isArray(cur)) cur = cur[Number(k)];
      else if (typeof cur === 'object') cur = (cur as Record<string, unknown>)[String(k)];
      else fail(`can't index item of type ${typeof cur}`);
      if (cur === undefined) return MISSING;
    }
    return cur;
  },
  join: (v, sep) =>
    Array.isArray(v) ? v.map(goString).join(String(sep ?? '')) : v === null || v === MISSING ? '' : fail('join needs a list'),
  len: (v) => (Array.isArray(v) || typeof v === 'string' ? v.length : v && typeof v === 'object' ? Object.keys(v).length : 0),
  upper: (v) => goString(v).toUpperCase(),
  lower: (v) => goString(v).toLowerCase(),
  title: (v) => goString(v).replace(/\b\w/g, (c) => c.toUpperCase()),
  split: (v, sep) => goString(v).split(String(sep)),
  println: (...vs) => vs.map(goString).join(' ') + '\n',
  print: (...vs) => vs.map(goString).join(''),
  truncate: (v, n) => goString(v).slice(0, Number(n)),
};

function evalArg(a: Arg, dot: unknown, root: unknown): unknown {
  switch (a.kind) {
    case 'field':
      return a.path.length ? field(a.root ? root : dot, a.path) : a.root ? root : dot;
    case 'string':
    case 'number':
      return a.value;
    case 'ident':
      if (a.name === 'true' || a.name === 'false') return a.name === 'true';
      if (a.name === 'nil') return null;
      if (FUNCS[a.name]) return FUNCS[a.name]();
      return fail(`function "${a.name}" not defined`);
  }
}

function evalPipe(pipe: Pipeline, dot: unknown, root: unknown): unknown {
  let prev: unknown = MISSING;
  pipe.forEach((cmd, i) => {
    const [head, ...rest] = cmd;
    const piped = i > 0 ? [prev] : [];
    if (head.kind === 'ident' && FUNCS[head.name]) {
      prev = FUNCS[head.name](...rest.map((a) => evalArg(a, dot, root)), ...piped);
    } else {
      if (head.kind === 'ident' && !['true', 'false', 'nil'].includes(head.name)) fail(`function "${head.name}" not defined`);
      if (rest.length || piped.length)
        fail(`can't give argument to non-function ${head.kind === 'field' ? '.' + head.path.join('.') : 'value'}`);
      prev = evalArg(head, dot, root);
    }
  });
  return prev;
}

function render(nodes: Node[], dot: unknown, root: unknown, out: string[]): void {
  for (const n of nodes) {
    if (n.type === 'text') out.push(n.text);
    else if (n.type === 'action') out.push(goString(evalPipe(n.pipe, dot, root)));
    else if (n.type === 'if') render(truthy(evalPipe(n.pipe, dot, root)) ? n.body : n.elseBody, dot, root, out);
    else {
      const v = evalPipe(n.pipe, dot, root);
      const items = Array.isArray(v)
        ? v
        : v && typeof v === 'object'
          ? Object.keys(v as object)
              .sort()
              .map((k) => (v as Record<string, unknown>)[k])
          : [];
      if (!items.length) render(n.elseBody, dot, root, out);
      for (const item of items) render(n.body, item, root, out);
    }
  }
}

/** Renders `template` against `data`; throws a CliError (FORMAT_INVALID) for a bad template. */
export function formatTemplate(template: string, data: unknown): string {
  const out: string[] = [];
  render(parseTemplate(template), data, data, out);
  return out.join('');
}

/** Parse once, render many (one line per inspected object). */
export function compileTemplate(template: string): (data: unknown) => string {
  const nodes = parseTemplate(template);
  return (data) => {
    const out: string[] = [];
    render(nodes, data, data, out);
    return out.join('');
  };
}
