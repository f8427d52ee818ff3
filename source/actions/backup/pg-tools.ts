import {execFile, spawn} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {libpqEnv, redactDsn, type Target} from '../../db/dsn.js';
import {CliError, ExitCode} from '../../errors.js';
import {sanitize} from '../../sanitize.js';

export type PgTools = {
	dir: string;
	/** e.g. "15.18" */
	version: string;
	major: number;
	pgDump: string;
	pgRestore: string;
	psql: string;
};

type Found = {dir: string; version: string; major: number};

const tools = ['pg_dump', 'pg_restore', 'psql'] as const;

function executable(file: string): boolean {
	try {
		fs.accessSync(file, fs.constants.X_OK);
		return fs.statSync(file).isFile();
	} catch {
		return false;
	}
}

function subdirs(parent: string, pattern: RegExp): string[] {
	try {
		return fs
			.readdirSync(parent)
			.filter(name => pattern.test(name))
			.map(name => path.join(parent, name));
	} catch {
		return [];
	}
}

/** Where distributions put each major's client tools, besides PATH. */
export function versionedDirs(): string[] {
	return [
		...subdirs('/usr/lib/postgresql', /^\d+(\.\d+)?$/).map(d => path.join(d, 'bin')), // Debian, Ubuntu
		...subdirs('/usr', /^pgsql-\d+$/).map(d => path.join(d, 'bin')), // PGDG RPMs
		...subdirs('/opt/homebrew/opt', /^postgresql@\d+$/).map(d => path.join(d, 'bin')),
		...subdirs('/usr/local/opt', /^postgresql@\d+$/).map(d => path.join(d, 'bin')),
		...subdirs('/Applications/Postgres.app/Contents/Versions', /^\d+$/).map(d => path.join(d, 'bin')),
		'/usr/local/pgsql/bin',
	];
}

export function parseToolVersion(output: string): {version: string; major: number} | undefined {
	const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(output);
	if (!m) return undefined;
	const first = Number(m[1]);
	// Before 10 the major was two numbers (9.6).
	const major = first >= 10 ? first : Number(`${first}.${m[2] ?? 0}`);
	return {version: m[2] === undefined ? m[1]! : `${m[1]}.${m[2]}`, major};
}

function toolVersion(file: string): Promise<{version: string; major: number} | undefined> {
	return new Promise(resolve => {
		execFile(file, ['--version'], {timeout: 5000}, (error, stdout) => resolve(error ? undefined : parseToolVersion(stdout)));
	});
}

/**
 * The directory's pg_dump, pg_restore and psql, if all three are there. A
 * pg_dump that is a symlink to something else (Debian's pg_wrapper) picks
 * its version per call from clusters and environment, so it is skipped: the
 * real binaries it would choose are in the versioned directories.
 */
async function inspect(dir: string): Promise<Found | undefined> {
	const pgDump = path.join(dir, 'pg_dump');
	if (!tools.every(t => executable(path.join(dir, t)))) return undefined;
	const real = fs.realpathSync(pgDump);
	if (path.basename(real) !== 'pg_dump') return undefined;
	const v = await toolVersion(real);
	return v && {dir: path.dirname(real), ...v};
}

function installHint(major: number): string {
	return (
		`install the PostgreSQL ${major} client tools (Debian/Ubuntu: apt install postgresql-client-${major} from apt.postgresql.org; ` +
		`RHEL: dnf install postgresql${major}; macOS: brew install postgresql@${major}) or point --pg-bin at a directory holding pg_dump ${major}`
	);
}

function toolsIn(found: Found): PgTools {
	return {...found, pgDump: path.join(found.dir, 'pg_dump'), pgRestore: path.join(found.dir, 'pg_restore'), psql: path.join(found.dir, 'psql')};
}

/** What the machine has: the one --pg-bin directory as found there, or every distinct set on PATH and in the versioned directories. */
export type PgToolsOnMachine = {pgBin: string; found?: Found; wrapper: boolean} | {pgBin?: undefined; candidates: Found[]};

/**
 * Looks for the tools without knowing the server's version yet (running
 * each pg_dump --version), so a backup can do it while it connects.
 */
export async function lookForPgTools(options: {pgBin?: string; env?: NodeJS.ProcessEnv} = {}): Promise<PgToolsOnMachine> {
	const env = options.env ?? process.env;
	if (options.pgBin) {
		const dir = path.resolve(options.pgBin);
		const found = await inspect(dir);
		return {pgBin: dir, found, wrapper: !found && executable(path.join(dir, 'pg_dump'))};
	}
	const dirs = [...(env.PATH ?? '').split(path.delimiter).filter(Boolean), ...versionedDirs()];
	const seen = new Set<string>();
	const candidates: Found[] = [];
	for (const dir of dirs) {
		const found = await inspect(dir);
		if (!found || seen.has(found.dir)) continue;
		seen.add(found.dir);
		candidates.push(found);
	}
	return {candidates};
}

/**
 * pg_dump, pg_restore and psql for a server of `serverMajor`: the same major
 * when there is one (PATH first, then the distributions' versioned
 * directories), else the oldest newer one, since pg_dump reads older servers
 * but refuses newer ones. With --pg-bin, that directory only.
 */
export function choosePgTools(machine: PgToolsOnMachine, serverMajor: number): PgTools {
	if (machine.pgBin !== undefined) {
		const {pgBin: dir, found} = machine;
		if (machine.wrapper) {
			throw new CliError(`--pg-bin ${dir}: its pg_dump is a wrapper that picks a version itself; give the directory of one version, e.g. /usr/lib/postgresql/${serverMajor}/bin`, ExitCode.failed);
		}
		if (!found) throw new CliError(`--pg-bin ${dir}: no pg_dump, pg_restore and psql there; ${installHint(serverMajor)}`, ExitCode.failed);
		if (found.major < serverMajor) {
			throw new CliError(`--pg-bin ${dir}: pg_dump ${found.version} cannot dump a PostgreSQL ${serverMajor} server; ${installHint(serverMajor)}`, ExitCode.failed);
		}
		return toolsIn(found);
	}
	const {candidates} = machine;
	const exact = candidates.find(c => c.major === serverMajor);
	if (exact) return toolsIn(exact);
	const newer = candidates.filter(c => c.major > serverMajor).sort((a, b) => a.major - b.major)[0];
	if (newer) return toolsIn(newer);
	const seenText = candidates.length ? ` (found only ${candidates.map(c => `${c.version} in ${c.dir}`).join(', ')})` : '';
	throw new CliError(`no pg_dump for PostgreSQL ${serverMajor}${seenText}; ${installHint(serverMajor)}`, ExitCode.failed);
}

/** The tools for a server of `serverMajor` (`pgBin`: --pg-bin). */
export async function findPgTools(serverMajor: number, options: {pgBin?: string; env?: NodeJS.ProcessEnv} = {}): Promise<PgTools> {
	return choosePgTools(await lookForPgTools(options), serverMajor);
}

// Variables that would point a tool somewhere other than the target we resolved.
const steering = ['PGHOST', 'PGHOSTADDR', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGPASSWORD', 'PGSERVICE', 'PGSSLMODE', 'PGREQUIRESSL', 'PGSSLROOTCERT', 'PGSSLCERT', 'PGSSLKEY', 'PGOPTIONS', 'PGAPPNAME', 'PGTARGETSESSIONATTRS'];

/** The environment a tool runs in: the target's connection in PG* variables, never the password in argv. */
export function toolEnv(target: Target, options: {database?: string; applicationName?: string} = {}): NodeJS.ProcessEnv {
	const env: NodeJS.ProcessEnv = {...process.env};
	for (const name of steering) delete env[name];
	return {...env, ...libpqEnv({...target, database: options.database ?? target.database}), PGAPPNAME: options.applicationName ?? 'intowork-db/backup', PGCONNECT_TIMEOUT: '10'};
}

/** A libpq connection string naming only the database, for tools whose -d would otherwise take a name with "=" as keywords. */
export function dbnameConninfo(database: string): string {
	return `dbname='${database.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

export type ToolRun = {
	/** lines of stderr (and stdout, when asked) as they arrive */
	onLine?(line: string, stream: 'stdout' | 'stderr'): void;
	onSpawn?(pid: number): void;
	signal?: AbortSignal;
	/** fed to the tool's stdin, which is otherwise closed */
	stdin?: NodeJS.ReadableStream;
	env: NodeJS.ProcessEnv;
};

export type ToolResult = {ok: boolean; code: number | null; killedBy: NodeJS.Signals | null; cancelled: boolean; error?: string};

/**
 * Runs a client tool and resolves (never rejects) when it has exited. A
 * cancel sends SIGTERM; if this process exits first the tool goes with it,
 * rather than running on unseen.
 */
export function runTool(file: string, args: string[], run: ToolRun): Promise<ToolResult> {
	return new Promise(resolve => {
		const name = path.basename(file);
		const child = spawn(file, args, {env: run.env, stdio: [run.stdin ? 'pipe' : 'ignore', run.onLine ? 'pipe' : 'ignore', 'pipe']});
		const problems: string[] = [];
		let cancelled = false;
		const killOnExit = () => child.kill('SIGKILL');
		process.once('exit', killOnExit);
		const cancel = () => {
			cancelled = true;
			child.kill('SIGTERM');
		};
		run.signal?.addEventListener('abort', cancel, {once: true});
		if (run.signal?.aborted) cancel();
		if (child.pid !== undefined) run.onSpawn?.(child.pid);

		const lines = (stream: NodeJS.ReadableStream | null, kind: 'stdout' | 'stderr') => {
			if (!stream) return;
			let rest = '';
			stream.setEncoding('utf8');
			stream.on('data', (chunk: string) => {
				const parts = (rest + chunk).split('\n');
				rest = parts.pop() ?? '';
				for (const line of parts) {
					if (kind === 'stderr' && isProblem(line)) problems.push(line);
					run.onLine?.(line, kind);
				}
			});
			stream.on('end', () => {
				if (!rest) return;
				if (kind === 'stderr' && isProblem(rest)) problems.push(rest);
				run.onLine?.(rest, kind);
			});
		};
		lines(child.stdout, 'stdout');
		lines(child.stderr, 'stderr');
		if (run.stdin && child.stdin) {
			// A tool that stops reading (it failed) must not turn into an unhandled EPIPE.
			child.stdin.on('error', () => undefined);
			run.stdin.on('error', error => {
				problems.push(`${name}: error: cannot read the input: ${error.message}`);
				child.kill('SIGTERM');
			});
			run.stdin.pipe(child.stdin);
		}

		let spawnError: string | undefined;
		child.on('error', error => {
			spawnError = `${name}: ${error.message}`;
		});
		child.on('close', (code, killedBy) => {
			process.off('exit', killOnExit);
			run.signal?.removeEventListener('abort', cancel);
			const ok = code === 0 && !cancelled && !spawnError;
			let error: string | undefined;
			if (!ok && !cancelled) {
				const first = problems[0];
				error = spawnError ?? (first ? cleanLine(first) : killedBy ? `${name} was killed by ${killedBy}` : `${name} exited with code ${code}`);
			}
			resolve({ok, code, killedBy, cancelled, error});
		});
	});
}

// "pg_dump: error: ...", and psql's "psql:<stdin>:12: ERROR: ..."; not a
// verbose line about a table that happens to be called error_log.
const problemPattern = /^(?:pg_dump|pg_restore|psql)(?::[^:]*:\d+)?: (?:error|fatal):/i;

function isProblem(line: string): boolean {
	return problemPattern.test(line);
}

/** Tool output can hold a connection string; keep it to one safe line. */
function cleanLine(line: string): string {
	return sanitize(redactDsn(line), 500);
}
