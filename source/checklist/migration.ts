import type {MigrationPlan} from '../actions/migration/plan.js';
import {migrationStatus, type MigrationStatus} from '../actions/migration/status.js';
import type {Queryable} from '../db/monitor.js';
import type {Verdict} from './items.js';

export type MigrationEvidence = {status: MigrationStatus; previousRevision: string};

/** Against the plan the console runs with (--migration-plan, or the built-in one). */
export async function readMigration(db: Queryable, plan: MigrationPlan): Promise<MigrationEvidence> {
	return {status: await migrationStatus(db, plan), previousRevision: plan.previousRevision};
}

/** A fingerprint of the schema objects the plans and timings depend on: when it changes, they are measured again. */
export function schemaFingerprint(e: MigrationEvidence): string {
	return [e.status.alembicVersion ?? '-', ...e.status.objects.map(o => `${o.name}:${o.state}`)].join(',');
}

export function judgeMigration(e: MigrationEvidence): {verdict: Verdict; evidence: string[]} {
	const s = e.status;
	const valid = s.objects.filter(o => o.state === 'valid');
	// An INVALID index (a failed CREATE INDEX CONCURRENTLY) is never used by the planner: it does not count.
	const allValid = valid.length === s.objects.length;
	const version = s.alembicVersion;
	const at = version === s.targetRevision;
	// Without the Alembic history a later revision cannot be told from an
	// unrelated one; with every object in place, a revision that is neither
	// this one nor the one before it is a later migration.
	const past = !at && typeof version === 'string' && version !== e.previousRevision && allValid;
	const evidence: string[] = [];
	if (version === undefined) evidence.push('no alembic_version table: is this the IntoWork database?');
	else if (version === null) evidence.push('alembic_version is empty');
	else if (at) evidence.push(`alembic_version ${version}`);
	else if (past) evidence.push(`alembic_version ${version}: past ${s.targetRevision} (every object of its plan is in place)`);
	else evidence.push(`alembic_version ${version}, needs ${s.targetRevision} or later`);
	evidence.push(`${valid.length} of ${s.objects.length} objects of the plan present and valid`);
	for (const state of ['missing', 'invalid', 'building'] as const) {
		const names = s.objects.filter(o => o.state === state && !o.differs).map(o => o.name);
		if (names.length) evidence.push(`${state}: ${names.join(', ')}`);
	}
	for (const o of s.objects) if (o.differs) evidence.push(`${o.name} present with a different definition (${o.differs.mismatch}); fix: ${o.differs.fix}`);
	return {verdict: (at || past) && allValid ? 'pass' : 'fail', evidence};
}
