import type pg from 'pg';
import {audit} from '../../audit.js';
import type {Queryable} from '../../db/monitor.js';
import {quoteIdent} from '../../db/sql.js';
import {qualified, type MigrationPlan, type PlanObject} from './plan.js';
import {
	backendPid,
	closeSession,
	describeError,
	MigrationError,
	openSession,
	pgCode,
	releaseMigrationLock,
	takeMigrationLock,
	type ActionContext,
} from './session.js';

export type DuplicateCount = {
	object: string;
	table: string;
	columns: string[];
	/** sets of rows sharing the key */
	groups: number;
	/** rows beyond the first of each group: what archiving moves */
	extraRows: number;
};

export type DuplicateRows = {
	/** key columns first, then the rest in table order */
	columns: string[];
	rows: Array<{group: number; keep: boolean; values: Record<string, unknown>}>;
	/** groups shown; fewer than the total when limited */
	groupsShown: number;
};

export type ArchivedTable = {object: string; table: string; archive: string; rows: number};

export type Resolution = {batch: string; tables: ArchivedTable[]};

export type ArchiveBatch = {batch: string; archivedAt: string; tables: Array<{table: string; archive: string; rows: number}>};

const uniqueObjects = (plan: MigrationPlan) => plan.objects.filter(o => o.unique);

const archiveName = (o: PlanObject) => `${o.table}_duplicates`;
const archiveTable = (plan: MigrationPlan, o: PlanObject) => `${quoteIdent(plan.archiveSchema)}.${quoteIdent(archiveName(o))}`;
const archiveText = (plan: MigrationPlan, o: PlanObject) => `${plan.archiveSchema}.${archiveName(o)}`;

const keys = (o: PlanObject, alias: string) => o.columns.map(c => `${alias}.${quoteIdent(c)}`).join(', ');
// NULLs never collide in a unique constraint, so rows with one are not duplicates.
const notNull = (o: PlanObject, alias: string) => o.columns.map(c => `${alias}.${quoteIdent(c)} IS NOT NULL`).join(' AND ');
const joinKeys = (o: PlanObject, a: string, b: string) => o.columns.map(c => `${a}.${quoteIdent(c)} = ${b}.${quoteIdent(c)}`).join(' AND ');

const groupsSql = (plan: MigrationPlan, o: PlanObject) =>
	`SELECT ${keys(o, 'd')} FROM ${qualified(plan, o.table)} d WHERE ${notNull(o, 'd')} GROUP BY ${keys(o, 'd')} HAVING count(*) > 1`;

/** The ORDER BY that puts the row to keep first: the plan's, else the primary key, else physical order. */
async function keepOrder(db: Queryable, plan: MigrationPlan, o: PlanObject, alias: string): Promise<string> {
	let columns = o.keep;
	if (!columns) {
		const r = await db.query<{columns: string[] | null}>(
			`SELECT array_agg(a.attname::text ORDER BY k.n) AS columns
			FROM pg_index i CROSS JOIN unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
			JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
			WHERE i.indrelid = to_regclass($1) AND i.indisprimary`,
			[qualified(plan, o.table)],
		);
		columns = r.rows[0]?.columns ?? undefined;
	}
	return columns ? columns.map(c => `${alias}.${quoteIdent(c)}`).join(', ') : `${alias}.ctid`;
}

/** Every row of a duplicate group with its rank; rank 1 is kept. Joined through the groups so only their rows are sorted. */
async function rankedSql(db: Queryable, plan: MigrationPlan, o: PlanObject): Promise<string> {
	return `groups AS (${groupsSql(plan, o)}),
ranked AS (
	SELECT d.ctid AS row_id, row_number() OVER (PARTITION BY ${keys(o, 'd')} ORDER BY ${await keepOrder(db, plan, o, 'd')}) AS rank
	FROM ${qualified(plan, o.table)} d JOIN groups g ON ${joinKeys(o, 'd', 'g')}
)`;
}

export async function countDuplicates(
	db: Queryable,
	plan: MigrationPlan,
	objects: readonly PlanObject[] = uniqueObjects(plan),
	/** called before each object's scan: the count of a big table takes a while */
	onObject?: (o: PlanObject, index: number) => void,
): Promise<DuplicateCount[]> {
	const out: DuplicateCount[] = [];
	for (const [index, o] of objects.entries()) {
		onObject?.(o, index);
		const r = await db.query<{groups: string; extra: string}>(
			`SELECT count(*) AS groups, coalesce(sum(n - 1), 0) AS extra FROM (
				SELECT count(*) AS n FROM ${qualified(plan, o.table)} d WHERE ${notNull(o, 'd')} GROUP BY ${keys(o, 'd')} HAVING count(*) > 1) x`,
		);
		out.push({object: o.name, table: o.table, columns: o.columns, groups: Number(r.rows[0]!.groups), extraRows: Number(r.rows[0]!.extra)});
	}
	return out;
}

/** The rows of the first `groupLimit` duplicate groups, in key order, the kept row first in each. */
export async function duplicateRows(db: Queryable, plan: MigrationPlan, o: PlanObject, groupLimit = 50): Promise<DuplicateRows> {
	const r = await db.query<{row: Record<string, unknown>; keep: boolean; grp: string}>(
		`WITH groups AS (${groupsSql(plan, o)} ORDER BY ${keys(o, 'd')} LIMIT $1)
		SELECT to_json(d) AS row, row_number() OVER w = 1 AS keep, dense_rank() OVER (ORDER BY ${keys(o, 'd')}) AS grp
		FROM ${qualified(plan, o.table)} d JOIN groups g ON ${joinKeys(o, 'd', 'g')}
		WINDOW w AS (PARTITION BY ${keys(o, 'd')} ORDER BY ${await keepOrder(db, plan, o, 'd')})
		ORDER BY ${keys(o, 'd')}, row_number() OVER w`,
		[groupLimit],
	);
	const first = r.rows[0]?.row ?? {};
	const rest = Object.keys(first).filter(c => !o.columns.includes(c));
	return {
		columns: [...o.columns, ...rest],
		rows: r.rows.map(row => ({group: Number(row.grp), keep: row.keep, values: row.row})),
		groupsShown: r.rows.length ? Number(r.rows[r.rows.length - 1]!.grp) : 0,
	};
}

async function tableColumns(db: Queryable, table: string, insertableOnly: boolean): Promise<string[]> {
	const r = await db.query<{name: string}>(
		`SELECT attname::text AS name FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ${insertableOnly ? "AND attgenerated = ''" : ''} ORDER BY attnum`,
		[table],
	);
	return r.rows.map(row => row.name);
}

/**
 * Archiving deletes rows: a foreign key pointing at one of them would either
 * stop the delete or, with ON DELETE CASCADE / SET NULL, silently change
 * other tables. Refuse instead, naming what points at them.
 */
async function refuseIfReferenced(db: Queryable, plan: MigrationPlan, o: PlanObject, ranked: string): Promise<void> {
	const fks = await db.query<{conname: string; child: string; child_columns: string[]; parent_columns: string[]}>(
		`SELECT con.conname::text, con.conrelid::regclass::text AS child,
			(SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, n)
				JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum) AS child_columns,
			(SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, n)
				JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum) AS parent_columns
		FROM pg_constraint con WHERE con.contype = 'f' AND con.confrelid = to_regclass($1)`,
		[qualified(plan, o.table)],
	);
	for (const fk of fks.rows) {
		const childCols = fk.child_columns.map(c => `c.${quoteIdent(c)}`).join(', ');
		const parentCols = fk.parent_columns.map(c => `p.${quoteIdent(c)}`).join(', ');
		const r = await db.query<{n: string}>(
			`WITH ${ranked}
			SELECT count(*) AS n FROM ${fk.child} c WHERE (${childCols}) IN (
				SELECT ${parentCols} FROM ${qualified(plan, o.table)} p JOIN ranked r ON p.ctid = r.row_id WHERE r.rank > 1)`,
		);
		const n = Number(r.rows[0]!.n);
		if (n > 0)
			throw new MigrationError(
				`${n} rows of ${fk.child} reference duplicates of ${o.table} that would be archived (${fk.conname}); point them at the kept rows first, nothing was moved`,
			);
	}
}

/** Moves every row but the first of each group into the archive, all in the caller's transaction. */
async function archiveIn(client: pg.Client, plan: MigrationPlan, o: PlanObject, batch: string): Promise<number> {
	const source = qualified(plan, o.table);
	const archive = archiveTable(plan, o);
	// LIKE copies names, types and NOT NULL, not defaults: archived ids must not draw from the live sequence.
	await client.query(`CREATE TABLE IF NOT EXISTS ${archive} (LIKE ${source}, archived_at timestamptz NOT NULL, archive_batch text NOT NULL)`);
	const ranked = await rankedSql(client, plan, o);
	await refuseIfReferenced(client, plan, o, ranked);
	const columns = (await tableColumns(client, source, false)).map(quoteIdent).join(', ');
	const r = await client.query(
		`WITH ${ranked},
		moved AS (DELETE FROM ${source} t USING ranked r WHERE t.ctid = r.row_id AND r.rank > 1 RETURNING t.*)
		INSERT INTO ${archive} (${columns}, archived_at, archive_batch) SELECT ${columns}, now(), $1 FROM moved`,
		[batch],
	);
	return r.rowCount ?? 0;
}

/** Runs fn in one transaction on the action's own connection, holding the migration lock. */
async function inTransaction<T>(ctx: ActionContext, fn: (client: pg.Client) => Promise<T>): Promise<T> {
	const client = await openSession(ctx.target);
	ctx.onPid?.(backendPid(client));
	try {
		await takeMigrationLock(client);
		await client.query('BEGIN');
		try {
			// Row locks only, but a DDL or VACUUM FULL in the way should not hold us (and the app behind us) for long.
			await client.query("SET LOCAL lock_timeout = '5s'");
			const result = await fn(client);
			ctx.signal?.throwIfAborted();
			await client.query('COMMIT');
			return result;
		} catch (error) {
			await client.query('ROLLBACK').catch(() => undefined);
			throw error;
		} finally {
			await releaseMigrationLock(client);
		}
	} finally {
		await closeSession(client);
	}
}

/**
 * Moves the duplicates of every unique object into the archive schema, keeping
 * the first row of each group by the object's keep order, in one transaction:
 * all tables or none. Every column is preserved; undoDuplicates puts them back.
 */
export async function resolveDuplicates(ctx: ActionContext, plan: MigrationPlan): Promise<Resolution> {
	const batch = new Date().toISOString();
	try {
		const tables = await inTransaction(ctx, async client => {
			await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(plan.archiveSchema)}`);
			const moved: ArchivedTable[] = [];
			for (const o of uniqueObjects(plan)) moved.push({object: o.name, table: o.table, archive: archiveText(plan, o), rows: await archiveIn(client, plan, o, batch)});
			return moved;
		});
		const result = {batch, tables};
		if (ctx.audit) audit(ctx.audit, {action: 'migrate.resolve-duplicates', result: 'ok', detail: {batch, tables}});
		return result;
	} catch (error) {
		if (ctx.audit) audit(ctx.audit, {action: 'migrate.resolve-duplicates', result: `failed: ${describeError(error)}`, detail: {batch}});
		throw error;
	}
}

async function archiveTables(db: Queryable, plan: MigrationPlan): Promise<PlanObject[]> {
	const out: PlanObject[] = [];
	const seen = new Set<string>();
	for (const o of uniqueObjects(plan)) {
		if (seen.has(o.table)) continue;
		seen.add(o.table);
		const r = await db.query<{exists: boolean}>('SELECT to_regclass($1) IS NOT NULL AS exists', [archiveTable(plan, o)]);
		if (r.rows[0]?.exists) out.push(o);
	}
	return out;
}

/** The most recent archiving still in the archive, which undo would restore. */
export async function latestArchive(db: Queryable, plan: MigrationPlan): Promise<ArchiveBatch | undefined> {
	const found: Array<{batch: string; archivedAt: string; table: string; archive: string; rows: number}> = [];
	for (const o of await archiveTables(db, plan)) {
		const r = await db.query<{batch: string; at: Date; n: string}>(
			`SELECT archive_batch AS batch, max(archived_at) AS at, count(*) AS n FROM ${archiveTable(plan, o)} GROUP BY archive_batch`,
		);
		for (const row of r.rows) found.push({batch: row.batch, archivedAt: new Date(row.at).toISOString(), table: o.table, archive: archiveText(plan, o), rows: Number(row.n)});
	}
	if (found.length === 0) return undefined;
	const latest = found.reduce((a, b) => (b.archivedAt > a.archivedAt ? b : a));
	const tables = found.filter(f => f.batch === latest.batch).map(({table, archive, rows}) => ({table, archive, rows}));
	return {batch: latest.batch, archivedAt: latest.archivedAt, tables};
}

/** Puts the rows of one archiving (the latest by default) back into their tables, ids and all, in one transaction. */
export async function undoDuplicates(ctx: ActionContext, plan: MigrationPlan, batch?: string): Promise<ArchiveBatch> {
	try {
		const restored = await inTransaction(ctx, async client => {
			const target = batch ? {batch} : await latestArchive(client, plan);
			if (!target) throw new MigrationError('nothing to restore: the archive holds no duplicates');
			const tables: ArchiveBatch['tables'] = [];
			for (const o of await archiveTables(client, plan)) {
				const source = qualified(plan, o.table);
				const columns = (await tableColumns(client, source, true)).map(quoteIdent).join(', ');
				try {
					const r = await client.query(
						`WITH back AS (DELETE FROM ${archiveTable(plan, o)} WHERE archive_batch = $1 RETURNING *)
						INSERT INTO ${source} (${columns}) OVERRIDING SYSTEM VALUE SELECT ${columns} FROM back`,
						[target.batch],
					);
					if (r.rowCount) tables.push({table: o.table, archive: archiveText(plan, o), rows: r.rowCount});
				} catch (error) {
					if (pgCode(error) === '23505')
						throw new MigrationError(`cannot restore into ${o.table}: a unique constraint or index there refuses the duplicates; downgrade first, nothing was restored`);
					throw error;
				}
			}
			if (tables.length === 0) throw new MigrationError(`nothing to restore: no archived rows in batch ${target.batch}`);
			return {batch: target.batch, archivedAt: 'archivedAt' in target ? target.archivedAt : '', tables};
		});
		if (ctx.audit) audit(ctx.audit, {action: 'migrate.undo-duplicates', result: 'ok', detail: restored});
		return restored;
	} catch (error) {
		if (ctx.audit) audit(ctx.audit, {action: 'migrate.undo-duplicates', result: `failed: ${describeError(error)}`, detail: {batch}});
		throw error;
	}
}
