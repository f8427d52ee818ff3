import type {Queryable} from '../../db/monitor.js';
import type {Inventory} from './catalog.js';

/**
 * The tables pg_dump writes data for: ordinary tables and partitions (not
 * partitioned parents, whose rows are their partitions'), in every schema
 * but the system ones, minus temporary tables and tables that belong to an
 * extension (CREATE EXTENSION makes those). Sizes come from pg_class
 * (as of the last VACUUM or ANALYZE) rather than pg_table_size(), which
 * would wait for a lock on every table behind any schema change.
 */
const tablesSql = `
SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS name, c.relkind = 'r' AS has_rows,
	(c.relpages + coalesce(t.relpages, 0))::bigint * current_setting('block_size')::bigint AS bytes
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
	AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
	AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1`;

// pg_dump never dumps an index that is not valid (a failed or running concurrent build, not ready
// or not yet validated): such an index is listed apart, or every restore would miss it.
const indexesSql = `
SELECT format('%I.%I', n.nspname, i.relname) AS name, x.indisvalid AS valid
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = i.relnamespace
WHERE x.indrelid = ANY ($1::oid[])
ORDER BY 1`;

const constraintsSql = `
SELECT format('%I.%I.%I', n.nspname, c.relname, con.conname) AS name
FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE con.conrelid = ANY ($1::oid[])
ORDER BY 1`;

export type TableList = {
	oids: number[];
	tables: string[];
	/** the tables holding rows themselves, which the dump writes data for */
	withRows: string[];
	/** heap and TOAST bytes of those tables as of their last VACUUM or ANALYZE: the dump's uncompressed size, give or take */
	dataBytes: number;
};

export async function listTables(db: Queryable): Promise<TableList> {
	const r = await db.query<{oid: number; name: string; has_rows: boolean; bytes: string}>(tablesSql);
	return {
		oids: r.rows.map(row => row.oid),
		tables: r.rows.map(row => row.name),
		withRows: r.rows.filter(row => row.has_rows).map(row => row.name),
		dataBytes: r.rows.reduce((n, row) => n + Number(row.bytes), 0),
	};
}

export async function listObjects(db: Queryable, list: TableList): Promise<Inventory['objects']> {
	const indexes = await db.query<{name: string; valid: boolean}>(indexesSql, [list.oids]);
	const constraints = await db.query<{name: string}>(constraintsSql, [list.oids]);
	const invalid = indexes.rows.filter(r => !r.valid).map(r => r.name);
	return {
		tables: list.tables,
		indexes: indexes.rows.filter(r => r.valid).map(r => r.name),
		constraints: constraints.rows.map(r => r.name),
		...(invalid.length ? {invalidIndexes: invalid} : {}),
	};
}

/**
 * Exact counts, one table at a time so progress can be shown and a cancel
 * takes effect between tables. The names come from format('%I.%I') above,
 * so they are already quoted identifiers.
 */
export async function countRows(db: Queryable, tables: readonly string[], options: {signal?: AbortSignal; onTable?(done: number): void} = {}): Promise<Record<string, number>> {
	const counts: Record<string, number> = {};
	for (const [i, table] of tables.entries()) {
		options.signal?.throwIfAborted();
		const r = await db.query<{n: string}>(`SELECT count(*) AS n FROM ${table}`);
		counts[table] = Number(r.rows[0]?.n ?? 0);
		options.onTable?.(i + 1);
	}
	return counts;
}

export async function takeInventory(db: Queryable, options: {signal?: AbortSignal; onTable?(done: number, total: number): void} = {}): Promise<Inventory> {
	const list = await listTables(db);
	const objects = await listObjects(db, list);
	const rowCounts = await countRows(db, list.withRows, {signal: options.signal, onTable: done => options.onTable?.(done, list.withRows.length)});
	return {rowCounts, objects};
}

const maxDifferences = 40;

function setDifference(kind: string, expected: readonly string[], actual: readonly string[]): string[] {
	const has = new Set(actual);
	const had = new Set(expected);
	return [...expected.filter(x => !has.has(x)).map(x => `${kind} ${x} missing after restore`), ...actual.filter(x => !had.has(x)).map(x => `${kind} ${x} not in the backup's source`)];
}

/** What differs between what was recorded at backup time and what a restore produced; empty when nothing does. */
export function compareInventory(expected: {rowCounts: Record<string, number>; objects?: Inventory['objects']}, actual: Inventory): string[] {
	const out: string[] = [];
	for (const [table, n] of Object.entries(expected.rowCounts)) {
		const got = actual.rowCounts[table];
		if (got === undefined) out.push(`table ${table} missing after restore (${n} rows in the backup)`);
		else if (got !== n) out.push(`table ${table}: ${n} rows in the backup, ${got} after restore`);
	}
	for (const table of Object.keys(actual.rowCounts)) {
		if (!(table in expected.rowCounts)) out.push(`table ${table} not in the backup's source (${actual.rowCounts[table]} rows after restore)`);
	}
	if (expected.objects) {
		// tables with rows were compared just above
		const counted = (t: string) => t in expected.rowCounts || t in actual.rowCounts;
		out.push(...setDifference('table', expected.objects.tables.filter(t => !counted(t)), actual.objects.tables.filter(t => !counted(t))));
		out.push(...setDifference('index', expected.objects.indexes, actual.objects.indexes));
		out.push(...setDifference('constraint', expected.objects.constraints, actual.objects.constraints));
	}
	return out.length > maxDifferences ? [...out.slice(0, maxDifferences - 1), `… and ${out.length - maxDifferences + 1} more differences`] : out;
}
