// Docker's change list (`docker diff`, moby's changes.go): A added, C changed, D deleted.

export type ChangeKind = 'A' | 'C' | 'D';

export interface Change {
  /** Absolute, as Docker prints it ('/etc/passwd'). */
  path: string;
  kind: ChangeKind;
}
