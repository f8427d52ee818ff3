import type {Queryable} from '../../db/monitor.js';
import {quoteIdent} from '../../db/sql.js';
import {builtinPlan, objectKind, qualified, type MigrationPlan, type PlanObject} from './plan.js';

export type ObjectState = 'valid' | 'missing' | 'invalid' | 'building';

export type MigrationStatus = {
	targetRevision: string;
	alembicVersion: string | null | undefined;
	/** alembic at target AND every object valid */
	applied: boolean;
	objects: Array<{name: string; table: string; kind: 'index' | 'unique'; state: ObjectState; differs?: {mismatch: string; fix: string}}>;
};

/** What the catalog says about one plan object, beyond its state. */
export type ObjectInspection = {
	object: PlanObject;
	state: ObjectState;
	/** a relation of that name exists (an index, unless mismatch says otherwise) */
	present: boolean;
	/** the index is valid (for a unique object: whether or not the constraint is attached yet) */
	indexValid: boolean;
	/** unique objects: the constraint uses the index */
	constraintAttached: boolean;
	/** present but not what the plan describes; never dropped or rebuilt automatically */
	mismatch?: string;
	/** with a mismatch: what the operator runs so an apply can build the plan's own */
	fix?: string;
	/** one line for the operator: why the state is what it is */
	detail?: string;
	definition?: string;
	sizeBytes?: number;
	/** the backend building it now, from pg_stat_progress_create_index */
	buildingPid?: number;
	buildingPhase?: string;
};

export type Inspection = {
	/** undefined: no alembic_version table; null: the table is empty */
	alembicVersion: string | null | undefined;
	objects: ObjectInspection[];
};

type Row = {
	name: string;
	relkind: string | null;
	on_table: string | null;
	valid: boolean | null;
	ready: boolean | null;
	is_unique: boolean | null;
	partial: boolean | null;
	expressions: boolean | null;
	method: string | null;
	columns: string[] | null;
	predicate: string | null;
	/** per key column: DESC, NULLS FIRST (the plan's are all ascending, nulls last) */
	sorted: boolean | null;
	definition: string | null;
	constraint_type: string | null;
	size: string | null;
	building_pid: number | null;
	phase: string | null;
};

// One round trip for every object: pg_class by name (any kind, so a table of
// that name is caught), its index, the constraint using it, and a build in progress.
const inspectSql = `
SELECT o.name, c.relkind::text AS relkind, t.relname::text AS on_table,
	i.indisvalid AS valid, i.indisready AS ready, i.indisunique AS is_unique,
	i.indpred IS NOT NULL AS partial, i.indexprs IS NOT NULL AS expressions, am.amname::text AS method,
	(SELECT array_agg(a.attname::text ORDER BY k.n)
		FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) AS columns,
	pg_get_expr(i.indpred, i.indrelid) AS predicate,
	0 <> ANY (i.indoption::int2[]) AS sorted,
	CASE WHEN c.relkind = 'i' THEN pg_get_indexdef(c.oid) END AS definition,
	con.contype::text AS constraint_type,
	CASE WHEN c.relkind = 'i' THEN pg_relation_size(c.oid) END AS size,
	p.pid AS building_pid, p.phase
FROM unnest($1::text[]) WITH ORDINALITY AS o(name, ord)
LEFT JOIN pg_class c ON c.relname = o.name AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $2)
LEFT JOIN pg_index i ON i.indexrelid = c.oid
LEFT JOIN pg_class t ON t.oid = i.indrelid
LEFT JOIN pg_am am ON am.oid = c.relam
LEFT JOIN pg_constraint con ON con.conindid = c.oid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
LEFT JOIN pg_stat_progress_create_index p ON p.index_relid = c.oid
ORDER BY o.ord`;

const relkinds: Record<string, string> = {r: 'a table', p: 'a partitioned table', v: 'a view', m: 'a materialized view', S: 'a sequence', f: 'a foreign table', c: 'a type', I: 'a partitioned index'};

function mismatchOf(o: PlanObject, row: Row): string | undefined {
	if (row.relkind !== 'i') return `"${o.name}" is ${relkinds[row.relkind ?? ''] ?? 'another relation'}, not an index`;
	if (row.on_table !== o.table) return `an index "${o.name}" exists on ${row.on_table}, not ${o.table}`;
	if (row.method !== 'btree') return `the existing "${o.name}" is a ${row.method} index, not btree`;
	if (row.expressions) return `the existing "${o.name}" indexes expressions, not plain columns`;
	const columns = row.columns ?? [];
	if (columns.join(',') !== o.columns.join(','))
		return `the existing "${o.name}" is on (${columns.join(', ')}), the plan says (${o.columns.join(', ')})`;
	if (Boolean(row.is_unique) !== o.unique) return `the existing "${o.name}" is ${row.is_unique ? '' : 'not '}unique, the plan says it is ${o.unique ? '' : 'not '}unique`;
	if (Boolean(row.partial) !== Boolean(o.where))
		return row.partial ? `the existing "${o.name}" is partial (WHERE ${row.predicate}), the plan's is not` : `the existing "${o.name}" is not partial, the plan's has WHERE ${o.where}`;
	if (o.where && normalisePredicate(row.predicate ?? '') !== normalisePredicate(o.where))
		return `the existing "${o.name}" has WHERE ${row.predicate}, the plan's has WHERE ${o.where}`;
	if (row.sorted) return `the existing "${o.name}" sorts a column DESC or NULLS FIRST, the plan's does not`;
	if (row.constraint_type && row.constraint_type !== 'u') return `the existing "${o.name}" backs a ${row.constraint_type === 'p' ? 'primary key' : 'exclusion constraint'}`;
	if (!o.unique && row.constraint_type) return `the existing "${o.name}" backs a unique constraint`;
	return undefined;
}

// pg_get_expr spells a predicate its own way: casts it adds ((status)::text = 'published'::text), parentheses,
// spacing and keyword case. Without them two predicates compare as the server would write them; literals
// keep their case ('Published' is not 'published').
const casts = /::\s*(?:"[^"]+"|timestamp with(?:out)? time zone|time with(?:out)? time zone|character varying|double precision|[a-z_][a-z0-9_]*)(?:\(\d+(?:,\d+)?\))?(?:\[\])?/g;

/** A predicate as compared: outside string literals, no casts, parentheses, whitespace or quotes on plain names, lower case. */
export function normalisePredicate(sql: string): string {
	return sql
		.split(/('(?:[^']|'')*')/)
		.map((part, i) => (i % 2 === 1 ? part : part.toLowerCase().replace(casts, '').replace(/"([a-z_][a-z0-9_]*)"/g, '$1').replace(/[()\s]/g, '')))
		.join('');
}

/** Out of the way under a name of its own, so the apply can build the plan's; dropped by hand once nothing needs it. */
const renameFix = (plan: MigrationPlan, o: PlanObject) =>
	`ALTER INDEX ${qualified(plan, o.name)} RENAME TO ${quoteIdent(`${o.name}_old`.slice(0, 63))}; then apply (and DROP INDEX CONCURRENTLY the old one once nothing needs it)`;

function inspectRow(plan: MigrationPlan, o: PlanObject, row: Row): ObjectInspection {
	const base = {object: o, present: row.relkind !== null, indexValid: false, constraintAttached: false};
	if (row.relkind === null) return {...base, state: 'missing', detail: 'not created yet'};
	const sized = {...base, definition: row.definition ?? undefined, sizeBytes: row.size === null ? undefined : Number(row.size)};
	const mismatch = mismatchOf(o, row);
	if (mismatch) {
		const fix = row.relkind === 'i' ? renameFix(plan, o) : `rename or drop that ${relkinds[row.relkind ?? ''] ?? 'relation'} by hand, then apply`;
		return {...sized, state: 'invalid', mismatch, fix, detail: `present with a different definition: ${mismatch}; fix: ${fix}`};
	}
	const indexValid = Boolean(row.valid);
	const constraintAttached = row.constraint_type === 'u';
	const inspected = {...sized, indexValid, constraintAttached};
	if (row.building_pid !== null) return {...inspected, state: 'building', buildingPid: row.building_pid, buildingPhase: row.phase ?? undefined, detail: `being built by pid ${row.building_pid} (${row.phase})`};
	if (!indexValid) return {...inspected, state: 'invalid', detail: `INVALID${row.ready ? '' : ', not ready'}: left by a failed or interrupted concurrent build; apply drops and rebuilds it`};
	if (o.unique && !constraintAttached) return {...inspected, state: 'missing', detail: 'unique index valid; the constraint is not attached yet'};
	return {...inspected, state: 'valid'};
}

async function readAlembicVersion(db: Queryable, plan: MigrationPlan): Promise<string | null | undefined> {
	const table = qualified(plan, 'alembic_version');
	const exists = await db.query<{exists: boolean}>('SELECT to_regclass($1) IS NOT NULL AS exists', [table]);
	if (!exists.rows[0]?.exists) return undefined;
	// Alembic keeps one row per head; a branched history has several.
	const r = await db.query<{version: string | null}>(`SELECT string_agg(version_num, ',' ORDER BY version_num) AS version FROM ${table}`);
	return r.rows[0]?.version ?? null;
}

export async function inspectMigration(db: Queryable, plan: MigrationPlan = builtinPlan): Promise<Inspection> {
	const r = await db.query<Row>(inspectSql, [plan.objects.map(o => o.name), plan.schema]);
	const objects = plan.objects.map((o, i) => inspectRow(plan, o, r.rows[i]!));
	return {alembicVersion: await readAlembicVersion(db, plan), objects};
}

export function statusOf(plan: MigrationPlan, inspection: Inspection): MigrationStatus {
	const objects = inspection.objects.map(i => ({
		name: i.object.name,
		table: i.object.table,
		kind: objectKind(i.object),
		state: i.state,
		...(i.mismatch && {differs: {mismatch: i.mismatch, fix: i.fix ?? ''}}),
	}));
	return {
		targetRevision: plan.revision,
		alembicVersion: inspection.alembicVersion,
		applied: inspection.alembicVersion === plan.revision && objects.every(o => o.state === 'valid'),
		objects,
	};
}

export async function migrationStatus(db: Queryable, plan: MigrationPlan = builtinPlan): Promise<MigrationStatus> {
	return statusOf(plan, await inspectMigration(db, plan));
}
