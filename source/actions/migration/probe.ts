import {performance} from 'node:perf_hooks';
import type pg from 'pg';
import {appQueries, appQueryContext, seededRandom} from '../../db/app-queries.js';
import {describeError} from './session.js';

/** The job list query as the app runs it: how it is planned and how long it takes. */
export type Probe =
	| {
			/** the node that reads jobs, e.g. "Seq Scan on jobs" or "Index Scan Backward using idx_… on jobs" */
			scan: string;
			/** the plan's nodes, indented by depth */
			plan: string[];
			p50Ms: number;
			p95Ms: number;
			runs: number;
	  }
	| {error: string};

type PlanNode = {
	'Node Type': string;
	'Relation Name'?: string;
	'Index Name'?: string;
	'Scan Direction'?: string;
	Plans?: PlanNode[];
};

function nodeLabel(n: PlanNode): string {
	const backward = n['Scan Direction'] === 'Backward' ? ' Backward' : '';
	const index = n['Index Name'] ? ` using ${n['Index Name']}` : '';
	const relation = n['Relation Name'] ? ` on ${n['Relation Name']}` : '';
	return `${n['Node Type']}${backward}${index}${relation}`;
}

function walk(n: PlanNode, depth: number, out: PlanNode[], lines: string[]) {
	out.push(n);
	lines.push(`${'  '.repeat(depth)}${nodeLabel(n)}`);
	for (const child of n.Plans ?? []) walk(child, depth + 1, out, lines);
}


const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;

/**
 * EXPLAIN of one search, then `runs` timed searches with the app's own
 * parameter mix (two untimed first, so parsing and a cold cache do not count).
 */
export async function probeJobList(db: pg.Client, runs = 20): Promise<Probe> {
	const query = appQueries.job_list;
	try {
		// fixed seed: before and after run the very same searches
		const random = seededRandom(20_251_231);
		const ctx = await appQueryContext(db);
		const params = Array.from({length: runs + 2}, () => query.params(ctx, random));
		// The city and contract type fixed the same way each time: the plan shown is the common case.
		const explained = await db.query<{'QUERY PLAN': Array<{Plan: PlanNode}>}>(`EXPLAIN (FORMAT JSON) ${query.sql}`, ['published', 'Paris', 'on_site', null]);
		const nodes: PlanNode[] = [];
		const plan: string[] = [];
		walk(explained.rows[0]!['QUERY PLAN'][0]!.Plan, 0, nodes, plan);
		const jobs = nodes.find(n => n['Relation Name'] === 'jobs');
		const times: number[] = [];
		for (const [i, p] of params.entries()) {
			const started = performance.now();
			await db.query(query.sql, p);
			if (i >= 2) times.push(performance.now() - started);
		}
		times.sort((a, b) => a - b);
		return {scan: jobs ? nodeLabel(jobs) : plan[0]!.trim(), plan, p50Ms: percentile(times, 0.5), p95Ms: percentile(times, 0.95), runs};
	} catch (error) {
		return {error: describeError(error)};
	}
}
