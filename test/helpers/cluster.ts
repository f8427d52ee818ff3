import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import {PgServer, cacheRoot, freePort, type PgMajor} from '../../source/demo/pg-server.js';
import {seed} from '../../source/demo/seed.js';

export const templateDatabase = 'intowork_template';
/** Small enough to copy in well under a second, large enough for plans and duplicates. */
export const testScale = 0.01;

export type ClusterInfo = {port: number; user: string; password: string; dataDir: string};

export const clusterEnv = 'INTOWORK_TEST_PG';

/** A fresh server in its own data dir, with the seeded IntoWork template database. */
export async function startCluster(major: PgMajor = 15, options: {settings?: Record<string, string | number>; preloadStatements?: boolean; template?: boolean} = {}): Promise<PgServer> {
	const dataDir = path.join(cacheRoot(), 'test', `pg${major}-${process.pid}-${Date.now()}`, 'data');
	const server = new PgServer({major, dataDir, port: await freePort(), settings: options.settings, preloadStatements: options.preloadStatements});
	await server.start();
	if (options.template !== false) {
		const admin = new pg.Client({connectionString: server.url()});
		await admin.connect();
		await admin.query(`CREATE DATABASE ${templateDatabase}`);
		await admin.end();
		const client = new pg.Client({connectionString: server.url(templateDatabase)});
		await client.connect();
		await seed(client, {scale: testScale});
		await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements').catch(() => undefined);
		await client.end();
	}
	return server;
}

export async function stopCluster(server: PgServer): Promise<void> {
	await server.stop();
	fs.rmSync(path.dirname(server.dataDir), {recursive: true, force: true});
}

export function clusterInfo(server: PgServer): ClusterInfo {
	return {port: server.port, user: server.user, password: server.password, dataDir: server.dataDir};
}
