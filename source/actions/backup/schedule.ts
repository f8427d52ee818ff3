import path from 'node:path';
import {tlsQuery, type Target} from '../../db/dsn.js';
import type {BackupFormat} from './files.js';

/** The target as a URL without its password: cron runs it with the password from ~/.pgpass. */
export function passwordlessUrl(t: Target): string {
	const user = encodeURIComponent(t.user);
	const db = encodeURIComponent(t.database);
	// A Unix socket directory cannot sit in the host part of a URL.
	if (t.host.startsWith('/')) return `postgresql://${user}@:${t.port}/${db}?host=${encodeURIComponent(t.host)}`;
	const host = t.host.includes(':') ? `[${t.host}]` : t.host;
	return `postgresql://${user}@${host}:${t.port}/${db}${tlsQuery(t)}`;
}

function shellQuote(s: string): string {
	return /^[A-Za-z0-9_./:=@,+%-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

export type ScheduleOptions = {
	target: Target;
	/** how to start this program: [node, cli.js] when run from a checkout, else the installed name */
	program: readonly string[];
	format: BackupFormat;
	/** when not the default directory */
	dir?: string;
	pgBin?: string;
	keep: number;
	/** INTOWORK_DB_STATE when set, so cron writes the same catalog the console reads */
	stateDir?: string;
};

/**
 * A crontab line for a nightly backup that is restore-tested before
 * retention may remove anything. Cron runs commands through sh with `%`
 * meaning newline, so the line is quoted for both.
 */
export function cronLine(o: ScheduleOptions): string {
	const words = [
		...(o.stateDir ? [`INTOWORK_DB_STATE=${shellQuote(o.stateDir)}`] : []),
		...o.program.map(shellQuote),
		'backup',
		'--dsn',
		shellQuote(passwordlessUrl(o.target)),
		...(o.format === 'plain' ? ['--format', 'plain'] : []),
		...(o.dir ? ['--dir', shellQuote(o.dir)] : []),
		...(o.pgBin ? ['--pg-bin', shellQuote(o.pgBin)] : []),
		'--verify',
		'--keep',
		String(o.keep),
	];
	return `30 2 * * * ${words.join(' ').replaceAll('%', '\\%')}`;
}

/** This program as cron must start it: absolute paths, since cron's PATH is short. */
export function currentProgram(argv: readonly string[] = process.argv, execPath: string = process.execPath): string[] {
	const script = argv[1];
	return script && path.basename(script) === 'cli.js' ? [execPath, path.resolve(script)] : ['intowork-db'];
}
