/** What every `skiff` command module gets: the program to register on and the global options. */
import type { Command } from 'commander';
import type { ClientOptions } from './client.ts';
import { parseFormat, type OutputFormat } from './render.ts';

export interface GlobalOpts extends ClientOptions {
  output?: string;
}

export interface CliContext {
  program: Command;
  globals(): GlobalOpts;
  format(): OutputFormat;
}

/** A command module adds its commands to the program. */
export type CommandModule = (ctx: CliContext) => void;

export function cliContext(program: Command): CliContext {
  const globals = () => program.opts<GlobalOpts>();
  return { program, globals, format: () => parseFormat(globals().output) };
}
