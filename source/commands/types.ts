import type {AnyFlags} from 'meow';
import type {GlobalFlags} from '../cli-flags.js';

export type SubcommandContext = {
	/** positional arguments after the subcommand name */
	input: string[];
	flags: Record<string, unknown>;
	global: GlobalFlags;
	/** where headless output goes (stdout in the CLI, a buffer in tests) */
	out(line: string): void;
};

export type Subcommand = {
	name: string;
	summary: string;
	/** usage lines for --help, without the program name */
	usage: string[];
	flags: AnyFlags;
	/**
	 * Why this invocation cannot run under --read-only (it changes the server or the disk), as the one-line
	 * refusal; undefined when it only reads. Required, so no command can forget to answer.
	 */
	readOnlyRefusal(flags: Record<string, unknown>): string | undefined;
	/** resolves to the process exit code */
	run(ctx: SubcommandContext): Promise<number>;
};

