// Small pieces of markup the pages share.
import type { ReactNode } from 'react';
import { Button, Checkbox, Label, ListBox, ListBoxItem, Popover, Select, SelectValue } from 'react-aria-components';

/** Terms and their values, as `docker inspect` would list them. */
export type Fact = [term: string, value: ReactNode];

export function Facts({ facts }: { facts: Fact[] }) {
  return (
    <dl className="facts">
      {facts.map(([term, value]) => (
        <div key={term} className="fact">
          <dt>{term}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/**
 * A button that acts on one of many things on the page (a row, an entry): it shows what it does, and
 * says to screen readers what it does it to, so that each has a name of its own ("Remove alice").
 */
export function ActionButton(props: { label: string; target: ReactNode; className?: string; isDisabled?: boolean; onPress(): void }) {
  return (
    <Button className={props.className ?? 'button secondary'} isDisabled={props.isDisabled} onPress={props.onPress}>
      {props.label} <span className="visually-hidden">{props.target}</span>
    </Button>
  );
}

/**
 * A table named by a caption for screen readers, with a header cell for each column (a column given
 * as false, null or undefined is left out), and the rows as children.
 */
export function DataTable(props: {
  caption?: ReactNode;
  columns: Array<string | false | null | undefined>;
  className?: string;
  children: ReactNode;
}) {
  return (
    <table className={props.className ?? 'table'}>
      {props.caption !== undefined ? <caption className="visually-hidden">{props.caption}</caption> : null}
      <thead>
        <tr>
          {props.columns
            .filter((c): c is string => !!c)
            .map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
        </tr>
      </thead>
      <tbody>{props.children}</tbody>
    </table>
  );
}

/** A checkbox with its drawn box; named by its children, or by `aria-label` where it has none. */
export function Check(props: { isSelected: boolean; onChange(v: boolean): void; 'aria-label'?: string; children?: ReactNode }) {
  return (
    <Checkbox className="checkbox" isSelected={props.isSelected} onChange={props.onChange} aria-label={props['aria-label']}>
      <span className="box" aria-hidden="true" />
      {props.children}
    </Checkbox>
  );
}

/** One of a few options, chosen from a list that a button showing the current one opens. */
export function Choice<K extends string>(props: {
  label: string;
  options: ReadonlyArray<{ id: K; label: string }>;
  value: NoInfer<K>;
  onChange(value: NoInfer<K>): void;
}) {
  return (
    <Select selectedKey={props.value} onSelectionChange={(k) => props.onChange(k as K)} className="select">
      <Label>{props.label}</Label>
      <Button className="button secondary">
        <SelectValue />
        <span aria-hidden="true"> ▾</span>
      </Button>
      <Popover>
        <ListBox items={props.options} className="listbox">
          {(o) => (
            <ListBoxItem id={o.id} className="listbox-item">
              {o.label}
            </ListBoxItem>
          )}
        </ListBox>
      </Popover>
    </Select>
  );
}
