import {criticalActions, type ItemId, type ItemResult, type Verdict} from './items.js';

export type Score = {
	/** points of 100 held now: each passing or signed-off item its full weight (items.ts) */
	score: number;
	/** what the score becomes once this week's critical actions are done */
	projected: number;
	required: number;
	requiredPassing: number;
	/** every required item passes or is signed off: `check` exits 0 */
	ready: boolean;
	critical: Array<{label: string; items: readonly ItemId[]; done: boolean}>;
};

export const holds = (v: Verdict) => v === 'pass' || v === 'signed-off';

export function scoreOf(results: readonly ItemResult[]): Score {
	const points = (rs: readonly ItemResult[]) => rs.filter(r => holds(r.verdict)).reduce((n, r) => n + r.weight, 0);
	const byId = new Map(results.map(r => [r.id, r]));
	const critical = criticalActions.map(a => ({label: a.label, items: a.items, done: a.items.every(id => holds(byId.get(id)?.verdict ?? 'unknown'))}));
	const fixed = new Set(criticalActions.flatMap(a => a.items));
	const required = results.filter(r => r.required);
	const requiredPassing = required.filter(r => holds(r.verdict)).length;
	return {
		score: points(results),
		projected: points(results.map(r => (fixed.has(r.id) ? {...r, verdict: 'pass'} : r))),
		required: required.length,
		requiredPassing,
		ready: requiredPassing === required.length,
		critical,
	};
}
