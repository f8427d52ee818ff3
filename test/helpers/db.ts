import {after} from 'node:test';
import pg from 'pg';
export {accepting} from '../../source/demo/pg-server.js';
import {clusterEnv, clusterInfo, startCluster, stopCluster, templateDatabase, type ClusterInfo} from './cluster.js';

let shared: Promise<ClusterInfo> | undefined;

/**
 * The run's cluster (started by test/run.ts), or, when a test file is run on
 * its own, a private one that stops when the file ends.
 */
export function cluster(): Promise<ClusterInfo> {
	shared ??= (async () => {
		const fromEnv = process.env[clusterEnv];
		if (fromEnv) return JSON.parse(fromEnv) as ClusterInfo;
		const server = await startCluster();
		after(() => stopCluster(server));
		return clusterInfo(server);
	})();
	return shared;
}

export function urlFor(info: ClusterInfo, database: string, user = info.user, password = info.password): string {
	return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${info.port}/${encodeURIComponent(database)}`;
}

export type TestDatabase = {
	name: string;
	url: string;
	info: ClusterInfo;
	/** a connected superuser client on this database, closed with the database */
	client: pg.Client;
	/** the same URL for another role */
	urlAs(user: string, password: string): string;
};

let counter = 0;

/**
 * A database of this test file's own: a copy of the seeded IntoWork template,
 * or empty. Dropped after the file. Call it at the top level of the test file
 * (top-level await), not inside a hook: node:test attaches `after` to the
 * hook it is called in, which would drop the database straight away.
 * A test that owns its database passes its context's `t.after`: dropped when that test ends.
 */
export async function testDatabase(options: {empty?: boolean; after?: (fn: () => Promise<void>) => void} = {}): Promise<TestDatabase> {
	const info = await cluster();
	const name = `t_${process.pid}_${Date.now() % 100000}_${counter++}`;
	const admin = new pg.Client({connectionString: urlFor(info, 'postgres')});
	await admin.connect();
	await admin.query(`CREATE DATABASE ${name}${options.empty ? '' : ` TEMPLATE ${templateDatabase}`}`);
	await admin.end();
	const client = new pg.Client({connectionString: urlFor(info, name)});
	client.on('error', () => undefined);
	await client.connect();
	(options.after ?? after)(async () => {
		await client.end().catch(() => undefined);
		await dropDatabases(info, [name]);
	});
	return {name, url: urlFor(info, name), info, client, urlAs: (user, password) => urlFor(info, name, user, password)};
}

/** Drop databases a test made; a private cluster may already be gone, and its databases with it. */
export async function dropDatabases(info: ClusterInfo, names: readonly string[]): Promise<void> {
	const admin = new pg.Client({connectionString: urlFor(info, 'postgres')});
	admin.on('error', () => undefined);
	try {
		await admin.connect();
		for (const name of names) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
	} catch {
		// nothing left to drop
	} finally {
		await admin.end().catch(() => undefined);
	}
}

/** A login role without special privileges, created once per cluster. */
export async function plainRole(db: TestDatabase, name = 'plain_user', password = 'plain_pw'): Promise<string> {
	await db.client.query(`DO $$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${name}') THEN CREATE ROLE ${name} LOGIN PASSWORD '${password}'; END IF;
	END $$`);
	await db.client.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${name}`);
	return db.urlAs(name, password);
}

/** Poll until check() returns a truthy value; for states that settle asynchronously (never a fixed sleep). */
export async function waitFor<T>(
	check: () => T | Promise<T>,
	options: {timeout?: number; interval?: number; message?: string} = {},
): Promise<Exclude<T, undefined | null | false | 0 | ''>> {
	const deadline = Date.now() + (options.timeout ?? 10_000);
	let last: unknown;
	for (;;) {
		try {
			const value = await check();
			if (value) return value as Exclude<T, undefined | null | false | 0 | ''>;
		} catch (error) {
			last = error;
		}
		if (Date.now() > deadline) {
			const why = last instanceof Error ? ` (last error: ${last.message})` : '';
			throw new Error(`waited ${(options.timeout ?? 10_000) / 1000} s for ${options.message ?? String(check)}${why}`);
		}
		await new Promise(resolve => setTimeout(resolve, options.interval ?? 25));
	}
}
