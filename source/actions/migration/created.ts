import type pg from 'pg';
import type {Queryable} from '../../db/monitor.js';
import {quoteIdent} from '../../db/sql.js';
import type {MigrationPlan} from './plan.js';

/**
 * Which objects an apply created, kept in the database next to the archived
 * duplicates (so it outlives the console, and another console's downgrade
 * reads it): a downgrade drops only those, never an index that was there
 * before the apply found it valid.
 */
const table = (plan: MigrationPlan) => `${quoteIdent(plan.archiveSchema)}.migration_created`;

export async function recordCreated(client: pg.Client, plan: MigrationPlan, names: readonly string[]): Promise<void> {
	if (names.length === 0) return;
	await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(plan.archiveSchema)}`);
	await client.query(
		`CREATE TABLE IF NOT EXISTS ${table(plan)} (revision text NOT NULL, object text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (revision, object))`,
	);
	await client.query(`INSERT INTO ${table(plan)} (revision, object) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, [plan.revision, names]);
}

/** After a downgrade dropped them: a later apply records afresh. */
export async function forgetCreated(client: pg.Client, plan: MigrationPlan, names: readonly string[]): Promise<void> {
	if (names.length === 0) return;
	const exists = await client.query<{ok: boolean}>('SELECT to_regclass($1) IS NOT NULL AS ok', [table(plan)]);
	if (exists.rows[0]?.ok) await client.query(`DELETE FROM ${table(plan)} WHERE revision = $1 AND object = ANY ($2::text[])`, [plan.revision, names]);
}

/** The objects this revision's applies created; undefined when nothing was recorded (applied by hand, or by an older intowork-db). */
export async function readCreated(db: Queryable, plan: MigrationPlan): Promise<Set<string> | undefined> {
	const exists = await db.query<{ok: boolean}>('SELECT to_regclass($1) IS NOT NULL AS ok', [table(plan)]);
	if (!exists.rows[0]?.ok) return undefined;
	const r = await db.query<{object: string}>(`SELECT object FROM ${table(plan)} WHERE revision = $1`, [plan.revision]);
	return r.rows.length ? new Set(r.rows.map(row => row.object)) : undefined;
}
