import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import {parseToolVersion, versionedDirs} from '../actions/backup/pg-tools.js';
import {PgServer, serverUser} from './pg-server.js';

/** pg_basebackup of this major: the machine's PostgreSQL client packages, then PATH. */
export function findBasebackup(major: number): string | undefined {
	for (const file of [...versionedDirs().map(d => path.join(d, 'pg_basebackup')), 'pg_basebackup']) {
		const r = spawnSync(file, ['--version'], {encoding: 'utf8'});
		if (r.status === 0 && parseToolVersion(r.stdout)?.major === major) return file;
	}
	return undefined;
}

export type ReplicaOptions = {
	primary: PgServer;
	dataDir: string;
	port: number;
	/** the physical slot the standby streams through; created on the primary */
	slot: string;
	/** cluster_name: the application_name pg_stat_replication shows for the standby */
	name: string;
	log?: (line: string) => void;
};

async function adminQuery(server: PgServer, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
	const client = new pg.Client({connectionString: server.url()});
	client.on('error', () => undefined);
	await client.connect();
	try {
		return await client.query(sql, params);
	} finally {
		await client.end();
	}
}

function conninfo(primary: PgServer): string {
	const q = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
	return `host=127.0.0.1 port=${primary.port} user=${q(primary.user)} password=${q(primary.password)}`;
}

/**
 * A streaming standby of `primary` in `dataDir`: pg_basebackup of the same
 * major when the machine has one (the primary keeps running), else a copy of
 * the stopped primary's data directory with standby.signal. Reused when the
 * data directory is already a standby whose slot still exists on the primary.
 */
export async function startReplica(options: ReplicaOptions): Promise<PgServer> {
	const {primary, dataDir, port, slot} = options;
	const log = options.log ?? (() => undefined);
	const ids = serverUser();
	const slotExists = (await adminQuery(primary, 'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot])).rowCount === 1;
	const reusable = slotExists && fs.existsSync(path.join(dataDir, 'standby.signal'));
	const primaryConninfo = `primary_conninfo = '${conninfo(primary).replace(/'/g, "''")}'`;
	if (reusable) {
		// the primary may listen on another port than when this standby was made (another --demo-port): without this it never streams again
		const auto = path.join(dataDir, 'postgresql.auto.conf');
		const kept = fs.readFileSync(auto, 'utf8').split('\n').filter(l => l && !/^\s*primary_conninfo\s*=/.test(l));
		fs.writeFileSync(auto, `${[...kept, primaryConninfo].join('\n')}\n`);
	} else {
		if (slotExists) await adminQuery(primary, 'SELECT pg_drop_replication_slot($1)', [slot]);
		fs.rmSync(dataDir, {recursive: true, force: true});
		fs.mkdirSync(path.dirname(dataDir), {recursive: true, mode: 0o755});
		const basebackup = findBasebackup(primary.major);
		if (basebackup) {
			log(`replica: pg_basebackup of the demo into ${dataDir}`);
			fs.mkdirSync(dataDir, {mode: 0o700});
			if (ids) fs.chownSync(dataDir, ids.uid, ids.gid);
			const r = spawnSync(
				basebackup,
				['-h', '127.0.0.1', '-p', String(primary.port), '-U', primary.user, '-D', dataDir, '-X', 'stream', '-c', 'fast', '-C', '-S', slot, '--no-sync', '-R'],
				{encoding: 'utf8', env: {...process.env, PGPASSWORD: primary.password}, ...ids},
			);
			if (r.status !== 0) throw new Error(`pg_basebackup failed: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`);
		} else {
			log(`replica: no pg_basebackup ${primary.major} on this machine; copying the stopped demo data directory`);
			await adminQuery(primary, 'SELECT pg_create_physical_replication_slot($1, true)', [slot]);
			await primary.stop();
			try {
				fs.cpSync(primary.dataDir, dataDir, {recursive: true});
			} finally {
				await primary.start();
			}
			fs.rmSync(path.join(dataDir, 'postmaster.pid'), {force: true});
			fs.writeFileSync(path.join(dataDir, 'standby.signal'), '');
			fs.appendFileSync(path.join(dataDir, 'postgresql.auto.conf'), `${primaryConninfo}\nprimary_slot_name = '${slot}'\n`);
			if (ids) spawnSync('chown', ['-R', `${ids.uid}:${ids.gid}`, dataDir]);
		}
	}
	const replica = new PgServer({dataDir, port, settings: {hot_standby: 'on', cluster_name: options.name}});
	await replica.start();
	return replica;
}
