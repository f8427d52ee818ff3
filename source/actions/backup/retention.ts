import path from 'node:path';
import {audit, type AuditContext} from '../../audit.js';
import {updateCatalog, type BackupRecord} from './catalog.js';
import {removeBackupFiles} from './files.js';

export type RetentionPolicy = {keep: number} | {keepDays: number};

export type RetentionPlan = {
	remove: BackupRecord[];
	/** the newest backup in the directory whose restore test passed: nothing newer or equal is ever removed */
	anchor?: BackupRecord;
	/** why nothing can be removed, when that is the case */
	note?: string;
};

const dayMs = 86_400_000;

export function describePolicy(policy: RetentionPolicy): string {
	return 'keep' in policy ? `keep the newest ${policy.keep}` : `keep ${policy.keepDays} days`;
}

/**
 * Which backups in `dir` the policy lets go. Only backups older than the
 * newest one that passed a restore test are ever candidates: until a newer
 * backup is proven to restore, the old ones are the only proof there is.
 * Files in the directory that are not in the catalog are never touched.
 */
export function planRetention(records: readonly BackupRecord[], dir: string, policy: RetentionPolicy, now = Date.now()): RetentionPlan {
	const here = path.resolve(dir);
	const live = records.filter(r => !r.removedAt && path.dirname(r.file) === here).sort((a, b) => b.finishedAt.localeCompare(a.finishedAt));
	const anchorIndex = live.findIndex(r => r.restoreTest?.passed);
	if (anchorIndex < 0) return {remove: [], note: `no backup in ${here} has passed a restore test yet, so none is removed`};
	const kept = (r: BackupRecord, i: number) => ('keep' in policy ? i < policy.keep : now - Date.parse(r.finishedAt) < policy.keepDays * dayMs);
	return {remove: live.filter((r, i) => i > anchorIndex && !kept(r, i)), anchor: live[anchorIndex]};
}

/** Removes what the plan says, files first, and marks the records; returns what went. */
export function applyRetention(ctx: AuditContext, dir: string, policy: RetentionPolicy, env: NodeJS.ProcessEnv = process.env): RetentionPlan {
	let plan: RetentionPlan = {remove: []};
	updateCatalog(
		ctx.key,
		records => {
			plan = planRetention(records, dir, policy);
			const at = new Date().toISOString();
			const gone = new Set(plan.remove.map(r => r.id));
			for (const r of plan.remove) removeBackupFiles(r.file);
			return records.map(r => (gone.has(r.id) ? {...r, removedAt: at} : r));
		},
		env,
	);
	if (plan.remove.length > 0) {
		audit(ctx, {action: 'backup.retention', result: 'ok', detail: {policy: describePolicy(policy), removed: plan.remove.map(r => r.file), verifiedBackup: plan.anchor?.file}}, env);
	}
	return plan;
}
