import type pg from 'pg';
import {appQueries, appQueryContext, seededRandom, type AppQueryContext, type AppQueryId} from '../db/app-queries.js';
import type {Queryable} from '../db/monitor.js';
import {formatNumber} from '../format.js';
import type {ChecklistOptions, Verdict} from './items.js';

/** The queries whose plans the runbook reviews. */
export const reviewedQueries: readonly AppQueryId[] = ['job_list', 'application_list', 'dashboard'];

/** Parameter draws per query: a plan depends on its values (a rare city, a busy employer). */
const draws = 3;

type PlanNode = {
	'Node Type': string;
	'Relation Name'?: string;
	Alias?: string;
	'Index Name'?: string;
	'Parallel Aware'?: boolean;
	'Plan Rows'?: number;
	'Total Cost'?: number;
	Plans?: PlanNode[];
};

export type SeqScan = {table: string; /** the planner's estimate of the table's rows now; null when it was never analyzed */ rows: number | null};

export type PlanView = {
	query: AppQueryId;
	label: string;
	params: unknown[];
	/** the plan as an indented tree, for reading on screen */
	lines: string[];
	seqScans: SeqScan[];
};

export type PlansEvidence = {at: string; plans: PlanView[]};


export async function queryContext(db: Queryable): Promise<AppQueryContext> {
	// It only calls query(sql) and reads rows, which every Queryable does; pg's overloads do not type-match.
	return appQueryContext(db as unknown as Pick<pg.Client, 'query'>);
}

function walk(node: PlanNode, depth: number, lines: string[], scanned: string[]): void {
	const type = node['Parallel Aware'] ? `Parallel ${node['Node Type']}` : node['Node Type'];
	const on = node['Relation Name'] ? ` on ${node['Relation Name']}${node.Alias && node.Alias !== node['Relation Name'] ? ` ${node.Alias}` : ''}` : '';
	const using = node['Index Name'] ? ` using ${node['Index Name']}` : '';
	const cost = node['Total Cost'] === undefined ? '' : `  (cost ${node['Total Cost'].toFixed(2)}, rows ${formatNumber(node['Plan Rows'])})`;
	lines.push(`${'  '.repeat(depth)}${depth ? '-> ' : ''}${type}${using}${on}${cost}`);
	if (node['Node Type'] === 'Seq Scan' && node['Relation Name']) scanned.push(node['Relation Name']);
	for (const child of node.Plans ?? []) walk(child, depth + 1, lines, scanned);
}

// As the planner estimates: the density of the last ANALYZE times the pages
// the table has now, so a table that grew since is not judged by its old size.
const sizesSql = `
SELECT x AS name,
	CASE WHEN c.reltuples >= 0 AND c.relpages > 0 THEN c.reltuples / c.relpages * (pg_relation_size(c.oid) / current_setting('block_size')::float8)
		WHEN pg_relation_size(c.oid) = 0 THEN 0 END AS rows
FROM unnest($1::text[]) AS x
LEFT JOIN pg_class c ON c.oid = to_regclass(x)`;

/** EXPLAIN (no ANALYZE: nothing runs) of each reviewed query with representative parameters. */
export async function readPlans(db: Queryable): Promise<PlansEvidence> {
	const ctx = await queryContext(db);
	const random = seededRandom(20_240_601);
	const explained: Array<Omit<PlanView, 'seqScans'> & {scanned: string[]}> = [];
	for (const id of reviewedQueries) {
		const query = appQueries[id];
		for (let i = 0; i < draws; i++) {
			const params = query.params(ctx, random);
			const r = await db.query<{'QUERY PLAN': Array<{Plan: PlanNode}>}>(`EXPLAIN (FORMAT JSON) ${query.sql}`, params);
			const lines: string[] = [];
			const scanned: string[] = [];
			walk(r.rows[0]!['QUERY PLAN'][0]!.Plan, 0, lines, scanned);
			explained.push({query: id, label: query.label, params, lines, scanned});
		}
	}
	const names = [...new Set(explained.flatMap(e => e.scanned))];
	const sizes = new Map<string, number | null>();
	if (names.length) {
		const r = await db.query<{name: string; rows: number | null}>(sizesSql, [names]);
		for (const row of r.rows) sizes.set(row.name, row.rows);
	}
	// Per query, the draw that scans the most rows sequentially: the one a reviewer must see.
	const scanned = (e: (typeof explained)[number]) => e.scanned.reduce((n, t) => n + (sizes.get(t) ?? Number.MAX_SAFE_INTEGER), 0);
	const plans = reviewedQueries.map(id => {
		const worst = explained.filter(e => e.query === id).sort((a, b) => scanned(b) - scanned(a))[0]!;
		const {scanned: tables, ...view} = worst;
		return {...view, seqScans: [...new Set(tables)].map(table => ({table, rows: sizes.get(table) ?? null}))};
	});
	return {at: new Date().toISOString(), plans};
}

/** Tables with data but no statistics count as large: the planner is guessing there too. */
export function largeSeqScans(plan: PlanView, threshold: number): SeqScan[] {
	return plan.seqScans.filter(s => s.rows === null || s.rows >= threshold);
}

export function judgePlans(e: PlansEvidence, options: ChecklistOptions): {verdict: Verdict; evidence: string[]} {
	const threshold = options.seqScanRows;
	const evidence: string[] = [];
	const tables = new Set<string>();
	for (const plan of e.plans) {
		const large = largeSeqScans(plan, threshold);
		for (const s of large) tables.add(s.table);
		const small = plan.seqScans.filter(s => !large.includes(s));
		const smallText = small.length ? ` (seq scans on small tables: ${small.map(s => `${s.table} ${formatNumber(s.rows)} rows`).join(', ')})` : '';
		evidence.push(
			large.length
				? `${plan.query}: Seq Scan on ${large.map(s => `${s.table} (${s.rows === null ? 'no statistics: ANALYZE it' : `${formatNumber(s.rows)} rows`})`).join(', ')}`
				: `${plan.query}: no seq scan on a table of ${formatNumber(threshold)}+ rows${smallText}`,
		);
	}
	return {verdict: tables.size ? 'fail' : 'pass', evidence};
}
