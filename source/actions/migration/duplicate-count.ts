import {openActionSession} from '../../db/action-session.js';
import type {Target} from '../../db/dsn.js';
import {countDuplicates, duplicateRows, type DuplicateCount, type DuplicateRows} from './duplicates.js';
import {qualified, type MigrationPlan, type PlanObject} from './plan.js';
import {backendPid, closeSession} from './session.js';
import {inspectMigration, type Inspection} from './status.js';

export const duplicatesApplicationName = 'intowork-db/duplicates';

/**
 * A full scan and sort per unique constraint: 10–20 s on the scale-1 demo,
 * far past the monitor's 5 s statement_timeout, and minutes on a bigger
 * table. Generous, yet bounded so a forgotten count does not scan for ever.
 */
export const countTimeoutMs = 10 * 60_000;

/** Which objects' state decides what to count: a build in progress counts as missing, so a count is redone when an object is done, not when it starts. */
export const inspectionShape = (i: Inspection) => `${i.alembicVersion}|${i.objects.map(o => (o.state === 'building' ? 'missing' : o.state)).join(',')}`;

export type DuplicateCountResult = {
	counts: DuplicateCount[];
	at: number;
	/** the inspection it counted for (inspectionShape) */
	shape: string;
};

/**
 * Counts the duplicates of every unique object still to add, on a connection
 * of its own (application_name intowork-db/duplicates), never the monitor's.
 */
export async function countPendingDuplicates(
	target: Target,
	plan: MigrationPlan,
	hooks: {pid(pid: number | undefined): void; progress(o: PlanObject, index: number, total: number): void; signal?: AbortSignal},
): Promise<DuplicateCountResult> {
	const client = await openActionSession(target, {applicationName: duplicatesApplicationName, lockTimeoutMs: 30_000, statementTimeoutMs: countTimeoutMs});
	try {
		hooks.pid(backendPid(client));
		const inspection = await inspectMigration(client, plan);
		const pending: PlanObject[] = [];
		for (const i of inspection.objects) {
			if (!i.object.unique || i.state === 'valid') continue;
			const r = await client.query<{exists: boolean}>('SELECT to_regclass($1) IS NOT NULL AS exists', [qualified(plan, i.object.table)]);
			if (r.rows[0]?.exists) pending.push(i.object);
		}
		const counts = await countDuplicates(client, plan, pending, (o, index) => {
			if (hooks.signal?.aborted) throw new Error('cancelled');
			hooks.progress(o, index, pending.length);
		});
		return {counts, at: Date.now(), shape: inspectionShape(inspection)};
	} finally {
		await closeSession(client);
	}
}

/** The rows of an object's first duplicate groups: the same full scan as the count, so on a connection like the count's, not the monitor's. */
export async function readDuplicateRows(target: Target, plan: MigrationPlan, o: PlanObject): Promise<DuplicateRows> {
	const client = await openActionSession(target, {applicationName: duplicatesApplicationName, lockTimeoutMs: 30_000, statementTimeoutMs: countTimeoutMs});
	try {
		return await duplicateRows(client, plan, o);
	} finally {
		await closeSession(client);
	}
}
