// Docker's management forms (`image ls`, `container commit`, ...) and its short forms (`ps`, `create`,
// `rm`): each is the same command under a second name. A form forwards its arguments, options and
// `--help` included, to the command it names, so the two can never drift apart.
import type { Command } from 'commander';

/** group -> [the form's name, the command it runs as a path from the program, aliases]. */
const MANAGEMENT: Record<'image' | 'container', [string, string[], string[]?][]> = {
  image: [
    ['ls', ['images'], ['list']],
    ['tag', ['tag']],
    ['rm', ['rmi'], ['remove']],
    ['inspect', ['inspect']],
    ['history', ['history']],
    ['save', ['save']],
    ['load', ['load']],
    ['import', ['import']],
    ['pull', ['pull']],
    ['push', ['push']],
  ],
  container: [
    ['commit', ['commit']],
    ['cp', ['cp']],
    ['diff', ['diff']],
    ['pause', ['pause']],
    ['unpause', ['unpause']],
  ],
};

/** Top-level short forms of `container` commands, as docker has them. */
const SHORT: [string, string[]][] = [
  ['ps', ['container', 'ls']],
  ['create', ['container', 'create']],
  ['rm', ['container', 'rm']],
];

function find(program: Command, path: string[]): Command | undefined {
  let at: Command | undefined = program;
  for (const name of path) at = at?.commands.find((c) => c.name() === name || c.aliases().includes(name));
  return at;
}

function forward(parent: Command, name: string, target: Command, aliases: string[] = []): void {
  const form = parent
    .command(name)
    .description(target.description())
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    // No declared arguments (the help lists `ls`, not `ls [args...]`): every token is in `args`.
    .action(async (_options: unknown, self: Command) => {
      await target.parseAsync(self.args, { from: 'user' });
    });
  for (const a of aliases) form.alias(a);
}

/** Registers the forms; call after every command they name exists. */
export function registerManagementForms(program: Command): void {
  for (const [group, forms] of Object.entries(MANAGEMENT)) {
    const parent = find(program, [group]) ?? program.command(group).description(group === 'image' ? 'Manage images' : 'Manage containers');
    for (const [name, path, aliases] of forms) {
      const target = find(program, path);
      if (!target) throw new Error(`the ${group} ${name} form names a missing command: ${path.join(' ')}`);
      if (!find(parent, [name])) forward(parent, name, target, aliases);
    }
  }
  for (const [name, path] of SHORT) {
    const target = find(program, path);
    if (!target) throw new Error(`the ${name} form names a missing command: ${path.join(' ')}`);
    if (!find(program, [name])) forward(program, name, target);
  }
}
