import {spawn, spawnSync, type ChildProcess} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {accepting, serverUser} from './pg-server.js';

/** pgBouncer from PATH or where Debian puts it. */
export function findPgbouncer(): string | undefined {
	for (const file of ['pgbouncer', '/usr/sbin/pgbouncer', '/usr/local/bin/pgbouncer']) {
		if (spawnSync(file, ['--version'], {encoding: 'utf8'}).status === 0) return file;
	}
	return undefined;
}

export const pgbouncerMissing = 'pgBouncer is not installed: apt-get install pgbouncer (Debian/Ubuntu), dnf install pgbouncer, or brew install pgbouncer';

export type BouncerOptions = {
	/** config, auth file, log and pid file */
	dir: string;
	port: number;
	upstreamPort: number;
	database: string;
	/** login roles and their passwords; the first is the admin console's user */
	users: Array<{name: string; password: string}>;
	poolSize: number;
	maxClientConn?: number;
	poolMode?: 'session' | 'transaction';
};

export type Bouncer = {
	port: number;
	url(user: string, password: string, database?: string): string;
	/** the admin console (SHOW POOLS ...) as the first user */
	adminUrl: string;
	logFile: string;
	stop(): Promise<void>;
};

const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;

function alive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

/** A real pgBouncer in the foreground, as the postgres user when we are root (it refuses to run as root). */
export async function startPgbouncer(options: BouncerOptions): Promise<Bouncer> {
	const binary = findPgbouncer();
	if (!binary) throw new Error(pgbouncerMissing);
	const ids = serverUser();
	const {dir, port} = options;
	fs.mkdirSync(dir, {recursive: true, mode: 0o700});
	if (ids) fs.chownSync(dir, ids.uid, ids.gid);
	const pidFile = path.join(dir, 'pgbouncer.pid');
	// a console killed outright leaves its pgBouncer running
	const leftover = Number.parseInt(fs.existsSync(pidFile) ? fs.readFileSync(pidFile, 'utf8') : '', 10);
	if (Number.isFinite(leftover) && alive(leftover)) process.kill(leftover, 'SIGTERM');
	fs.rmSync(pidFile, {force: true});
	const admin = options.users[0]!.name;
	const authFile = path.join(dir, 'userlist.txt');
	fs.writeFileSync(authFile, options.users.map(u => `${quote(u.name)} ${quote(u.password)}\n`).join(''), {mode: 0o600});
	const logFile = path.join(dir, 'pgbouncer.log');
	const ini = path.join(dir, 'pgbouncer.ini');
	fs.writeFileSync(
		ini,
		`[databases]
${options.database} = host=127.0.0.1 port=${options.upstreamPort} dbname=${options.database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = ${authFile}
admin_users = ${admin}
stats_users = ${admin}
pool_mode = ${options.poolMode ?? 'transaction'}
default_pool_size = ${options.poolSize}
max_client_conn = ${options.maxClientConn ?? 200}
logfile = ${logFile}
pidfile = ${pidFile}
stats_period = 10
ignore_startup_parameters = extra_float_digits,options
`,
		{mode: 0o600},
	);
	for (const f of [authFile, ini]) if (ids) fs.chownSync(f, ids.uid, ids.gid);
	const child: ChildProcess = spawn(binary, [ini], {stdio: 'ignore', ...ids});
	let exited = false;
	child.once('exit', () => (exited = true));
	const deadline = Date.now() + 15_000;
	while (!(await accepting(port))) {
		if (exited) throw new Error(`pgbouncer exited during start-up; see ${logFile}`);
		if (Date.now() > deadline) {
			child.kill('SIGKILL');
			throw new Error(`pgbouncer did not listen on ${port} within 15 s; see ${logFile}`);
		}
		await new Promise(resolve => setTimeout(resolve, 50));
	}
	const url = (user: string, password: string, database = options.database) =>
		`postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
	return {
		port,
		url,
		adminUrl: url(admin, options.users[0]!.password, 'pgbouncer'),
		logFile,
		async stop() {
			if (exited) return;
			const gone = new Promise(resolve => child.once('exit', resolve));
			// SIGTERM: immediate shutdown, clients disconnected
			child.kill('SIGTERM');
			const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
			await gone;
			clearTimeout(timer);
		},
	};
}
