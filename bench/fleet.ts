import pg from 'pg';
import type {Capabilities} from '../source/db/capabilities.js';
import {resolveTarget} from '../source/db/dsn.js';
import {Monitor} from '../source/db/monitor.js';
import {sampleBouncer} from '../source/db/pgbouncer.js';
import {sampleReplica} from '../source/db/replication.js';
import {findLatencyEntries, sampleLatency, samplePrimary} from '../source/db/sampler.js';
import {statementsSchema} from '../source/db/statements.js';
import type {Demo} from '../source/demo/demo.js';
import type {LoadContext} from '../source/store/poller.js';
import {defaultAlertThresholds} from '../source/alerts/settings.js';
import type {Row} from './table.js';

type Measure = (title: string, refresh: () => Promise<unknown>, server?: pg.Client) => Promise<Row>;

/** The background sampler's statements: what every screen costs on top of its own, on each target. */
export async function benchFleet(o: {ctx: LoadContext; monitor: Monitor; caps: Capabilities; measure: Measure; demo: Demo; benchRole: string}): Promise<Row[]> {
	const rows: Row[] = [];
	const limits = {hangingActiveMs: o.ctx.thresholds.hangingActiveMs, hangingIdleTxMs: o.ctx.thresholds.hangingIdleTxMs, lockWaitMs: defaultAlertThresholds.lockWaitMs};
	rows.push(await o.measure('+ sampler, primary (every screen)', () => samplePrimary(o.monitor, o.caps, limits)));
	const schema = (await statementsSchema(o.monitor)) ?? 'public';
	const entries = await findLatencyEntries(o.monitor, schema);
	rows.push(await o.measure('+ sampler, latency (every 10 s)', () => sampleLatency(o.monitor, o.caps.statements.version ?? '1.10', schema, entries)));
	rows.push(await o.measure('+ sampler, latency entries by text (every 5 min)', () => findLatencyEntries(o.monitor, schema)));
	if (o.demo.replicaUrl) {
		const url = o.demo.replicaUrl.replace(/\/\/[^@]+@/, `//${o.benchRole}:${o.benchRole}@`);
		const replica = new Monitor(resolveTarget({dsn: url, env: {}}));
		await replica.connect();
		// the replica's own pg_stat_statements, read as the superuser
		const admin = new pg.Client({connectionString: o.demo.replicaUrl});
		await admin.connect();
		try {
			rows.push(await o.measure('+ sampler, replica', () => sampleReplica(replica, o.caps.major), admin));
		} finally {
			await admin.end();
			await replica.close();
		}
	}
	if (o.demo.pgbouncerAdminUrl) {
		const bouncer = new Monitor(resolveTarget({dsn: o.demo.pgbouncerAdminUrl, env: {}}), {pgbouncer: true});
		await bouncer.connect();
		try {
			// pgBouncer answers SHOW itself: no PostgreSQL statements, only its own time
			let previous: Awaited<ReturnType<typeof sampleBouncer>> | undefined;
			rows.push(await o.measure('+ sampler, pgBouncer (screen open)', async () => (previous = await sampleBouncer(bouncer, true, previous))));
		} finally {
			await bouncer.close();
		}
	}
	return rows;
}
