// For component tests: what a table shows, a row at a time, as the text of each cell.
import { within } from '@testing-library/react';

/** The text of each body row's cells (the header row left out). */
export const cellTexts = (table: HTMLElement) =>
  within(table)
    .getAllByRole('row')
    .slice(1)
    .map((r) =>
      within(r)
        .getAllByRole('cell')
        .map((c) => c.textContent),
    );
