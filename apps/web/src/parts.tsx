// Small pieces of markup the pages share.
import type { ReactNode } from 'react';
import { Button } from 'react-aria-components';

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
