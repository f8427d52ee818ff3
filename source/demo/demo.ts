import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import {readJson, writeJson} from '../state.js';
import {PgServer, cacheRoot, freePort} from './pg-server.js';
import {appRole, previousRevision} from '../intowork.js';
import {appRolePassword, seed, seedCounts} from './seed.js';
import {startWorkload, type Workload} from './workload.js';
import {startReplica} from './replica.js';
import {findPgbouncer, pgbouncerMissing, startPgbouncer, type Bouncer} from './pgbouncer.js';

export const demoDatabase = 'intowork';
/** Fixed so that a second terminal (psql, the app) finds the demo where it was last time. */
export const defaultDemoPort = 54329;

export type DemoOptions = {
	/** fixed port; startDemo fails if it is taken */
	port?: number;
	/** throw the data away and seed again */
	reset?: boolean;
	/** seed volume, 1 = 200k jobs and 1M applications (the default) */
	scale?: number;
	/** false: no simulated traffic (default on) */
	workload?: boolean;
	restartAfterMs?: number;
	cacheDir?: string;
	/** start-up progress (seeding), printed before the console takes the terminal */
	log?: (line: string) => void;
	/** a streaming standby of the demo */
	replica?: boolean;
	/** the app traffic through a real pgBouncer (when installed) */
	pgbouncer?: boolean;
	/** the workload's own events; never the terminal, which belongs to the console once it runs */
	workloadLog?: (line: string) => void;
};

export type Demo = {
	/** superuser DSN to the intowork database */
	url: string;
	/** intowork_app DSN, the role the backend uses */
	appUrl: string;
	server: PgServer;
	workload?: Workload;
	/** --demo-replica: a streaming standby of the demo */
	replicaUrl?: string;
	/** --demo-pgbouncer: pgBouncer's admin console, in front of the app traffic */
	pgbouncerAdminUrl?: string;
	stop(): Promise<void>;
};

/** Written once seeding has finished, so an interrupted seed is redone rather than reused. */
type SeedMarker = {scale: number; revision: string; seededAt: string};

function portFree(port: number): Promise<boolean> {
	return new Promise(resolve => {
		const probe = net.createServer();
		probe.once('error', () => resolve(false));
		probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
	});
}

async function choosePort(requested: number | undefined): Promise<number> {
	if (requested === undefined) return (await portFree(defaultDemoPort)) ? defaultDemoPort : freePort();
	if (!(await portFree(requested))) throw new Error(`port ${requested} is already in use on 127.0.0.1: choose another port, or leave the port out to use a free one`);
	return requested;
}

async function wipe(server: PgServer, markerFile: string): Promise<void> {
	fs.rmSync(markerFile, {force: true});
	// A console killed outright can leave its postmaster running on this data dir; start() stops such a leftover.
	if (fs.existsSync(path.join(server.dataDir, 'postmaster.pid'))) {
		await server.start().catch(() => undefined);
		await server.stop();
	}
	fs.rmSync(server.dataDir, {recursive: true, force: true});
}

async function createAndSeed(server: PgServer, scale: number, log: (line: string) => void): Promise<void> {
	const admin = new pg.Client({connectionString: server.url()});
	admin.on('error', () => undefined);
	await admin.connect();
	try {
		await admin.query(`CREATE DATABASE ${demoDatabase}`);
	} finally {
		await admin.end();
	}
	const counts = seedCounts(scale);
	log(`seeding ${demoDatabase} (scale ${scale}: ${counts.jobs.toLocaleString('en')} jobs, ${counts.applications.toLocaleString('en')} applications), once`);
	const client = new pg.Client({connectionString: server.url(demoDatabase)});
	client.on('error', () => undefined);
	await client.connect();
	try {
		const started = Date.now();
		await seed(client, {scale, log: line => log(`  ${line}`)});
		log(`seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
	} finally {
		await client.end();
	}
}

export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
	const log = options.log ?? (() => undefined);
	const scale = options.scale ?? 1;
	const home = path.join(options.cacheDir ?? cacheRoot(), 'demo-pg15');
	const markerFile = path.join(home, 'seeded.json');
	const server = new PgServer({dataDir: path.join(home, 'data'), port: await choosePort(options.port)});

	const marker = readJson<SeedMarker | undefined>(markerFile, undefined);
	const reuse = !options.reset && server.initialised && marker?.scale === scale && marker.revision === previousRevision;
	if (!reuse) {
		await wipe(server, markerFile);
		log(`initialising PostgreSQL 15 in ${server.dataDir}`);
	}
	try {
		await server.start();
		if (!reuse) {
			await createAndSeed(server, scale, log);
			const seeded: SeedMarker = {scale, revision: previousRevision, seededAt: new Date().toISOString()};
			writeJson(markerFile, seeded);
		}
		const admin = new pg.Client({connectionString: server.url(demoDatabase)});
		admin.on('error', () => undefined);
		await admin.connect();
		try {
			await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
		} finally {
			await admin.end();
		}
	} catch (error) {
		await server.stop();
		throw error;
	}

	const url = server.url(demoDatabase);
	const appUrl = server.url(demoDatabase, appRole, appRolePassword);
	let replica: PgServer | undefined;
	let bouncer: Bouncer | undefined;
	const stopExtras = async () => {
		await bouncer?.stop();
		await replica?.stop();
	};
	try {
		if (options.replica) {
			const dataDir = path.join(home, 'replica', 'data');
			if (!reuse) fs.rmSync(path.dirname(dataDir), {recursive: true, force: true});
			replica = await startReplica({primary: server, dataDir, port: await freePort(), slot: 'intowork_demo_replica', name: 'intowork-demo-replica', log});
			log(`replica streaming on 127.0.0.1:${replica.port}`);
		}
		if (options.pgbouncer) {
			if (findPgbouncer()) {
				bouncer = await startPgbouncer({
					dir: path.join(home, 'pgbouncer'),
					port: await freePort(),
					upstreamPort: server.port,
					database: demoDatabase,
					users: [
						{name: server.user, password: server.password},
						{name: appRole, password: appRolePassword},
					],
					poolSize: 20,
				});
				log(`pgBouncer on 127.0.0.1:${bouncer.port} in front of the app traffic`);
			} else log(`${pgbouncerMissing}; the demo runs without it`);
		}
	} catch (error) {
		await stopExtras();
		await server.stop();
		throw error;
	}
	const trafficUrl = bouncer ? bouncer.url(appRole, appRolePassword) : appUrl;
	const workload = options.workload === false ? undefined : startWorkload({url, appUrl: trafficUrl, restartAfterMs: options.restartAfterMs, log: options.workloadLog});
	return {
		url,
		appUrl,
		server,
		workload,
		...(replica && {replicaUrl: replica.url(demoDatabase)}),
		...(bouncer && {pgbouncerAdminUrl: bouncer.adminUrl}),
		async stop() {
			await workload?.stop();
			await stopExtras();
			await server.stop();
		},
	};
}
