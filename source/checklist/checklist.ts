import fs from 'node:fs';
import path from 'node:path';
import type {Queryable} from '../db/monitor.js';
import {formatDuration} from '../format.js';
import {sanitize} from '../sanitize.js';
import type {TargetKey} from '../state.js';
import {scanBackend, type BackendScan} from './backend.js';
import {judgeBackup, judgeRestore, readBackups, type BackupEvidence} from './backups.js';
import {actionText, itemDef, items, itemTitle, type ChecklistOptions, type ItemId, type ItemResult, type Verdict} from './items.js';
import {judgeLatency, measureLatency, type LatencyEvidence} from './latency.js';
import {judgeLoadTest, readLoadTest, signOffLine, type LoadTestResult} from './load-test.js';
import {judgeMigration, readMigration, schemaFingerprint, type MigrationEvidence} from './migration.js';
import {judgeMonitoring, readMonitoring, type MonitoringEvidence} from './monitoring.js';
import {judgePlans, readPlans, type PlansEvidence} from './plans.js';
import {scoreOf, type Score} from './score.js';
import {currentSignOff, readHistory, readSignOffs, type HistoryEntry, type SignOff} from './store.js';
import {judgeTimeouts, readTimeouts, type TimeoutEvidence} from './timeout.js';
import {errorText} from '../errors.js';

/** One piece of evidence as read, or why it could not be. */
export type Slot<T> = {at: string; value?: T; error?: string};

/** What the server says: read on the console's monitor connection. */
export type DbEvidence = {
	migration: Slot<MigrationEvidence>;
	timeouts: Slot<TimeoutEvidence>;
	monitoring: Slot<MonitoringEvidence>;
	/** the slow checks carry the schema they were measured on, so a migration re-measures them */
	plans: Slot<PlansEvidence> & {fingerprint: string};
	latency: Slot<LatencyEvidence> & {fingerprint: string};
};

/** What this machine holds: the backup catalog and files, sign-offs, the last load test, the backend's checkout. */
export type LocalEvidence = {
	at: string;
	backups: Slot<BackupEvidence>;
	signOffs: SignOff[];
	loadTest?: LoadTestResult;
	backend?: Slot<BackendScan>;
	history: HistoryEntry[];
};

export type ChecklistReport = {at: string; items: ItemResult[]; score: Score};

/**
 * EXPLAIN plans the three queries; the latency check runs the timed ones
 * `samples` times each. Neither belongs in a 2-second refresh: they run
 * when their last result is this old, when the schema changed under them,
 * or on demand.
 */
export const cadence = {plansMs: 60_000, latencyMs: 300_000};

async function attempt<T>(read: () => Promise<T>): Promise<Slot<T>> {
	try {
		return {value: await read(), at: new Date().toISOString()};
	} catch (error) {
		return {error: sanitize(errorText(error), 300), at: new Date().toISOString()};
	}
}

function due(slot: (Slot<unknown> & {fingerprint: string}) | undefined, fingerprint: string, everyMs: number, now: number): boolean {
	return !slot || slot.error !== undefined || slot.fingerprint !== fingerprint || now - new Date(slot.at).getTime() >= everyMs;
}

/** The checks that ask the server; with `previous`, the slow ones are reused until due. */
export async function collectDb(db: Queryable, options: ChecklistOptions, previous?: DbEvidence): Promise<DbEvidence> {
	const migration = await attempt(() => readMigration(db, options.plan));
	const timeouts = await attempt(() => readTimeouts(db, options.appRole));
	const monitoring = await attempt(() => readMonitoring(db));
	const fingerprint = migration.value ? schemaFingerprint(migration.value) : '';
	const now = Date.now();
	const plans = due(previous?.plans, fingerprint, cadence.plansMs, now) ? {...(await attempt(() => readPlans(db))), fingerprint} : previous!.plans;
	const latency = due(previous?.latency, fingerprint, cadence.latencyMs, now) ? {...(await attempt(() => measureLatency(db, options.samples))), fingerprint} : previous!.latency;
	return {migration, timeouts, monitoring, plans, latency};
}

export async function collectLocal(key: TargetKey, options: ChecklistOptions, env: NodeJS.ProcessEnv = process.env): Promise<LocalEvidence> {
	return {
		at: new Date().toISOString(),
		backups: await attempt(() => readBackups(key, env)),
		signOffs: readSignOffs(key, env),
		loadTest: readLoadTest(key, env),
		backend: options.backendDir === undefined ? undefined : await attempt(async () => scanBackend(options.backendDir!)),
		history: readHistory(key, 200, env),
	};
}

type Judged = {verdict: Verdict; evidence: string[]; fix?: string[]};

function judged<T>(slot: Slot<T> | undefined, judge: (value: T) => Judged): Judged & {checkedAt?: string} {
	if (!slot) return {verdict: 'unknown', evidence: ['not checked yet']};
	if (slot.value === undefined) return {verdict: 'unknown', evidence: [`could not check: ${slot.error ?? 'no result'}`], checkedAt: slot.at};
	return {...judge(slot.value), checkedAt: slot.at};
}

function describeFile(file: string, now: number): string | undefined {
	try {
		const stat = fs.statSync(file);
		return `${file} exists (${stat.isDirectory() ? `${fs.readdirSync(file).length} entries` : `${stat.size} bytes`}, changed ${formatDuration(now - stat.mtimeMs)} ago)`;
	} catch {
		return undefined;
	}
}

function judgeRunbook(local: LocalEvidence, options: ChecklistOptions, now: number): Judged {
	const sign = currentSignOff(local.signOffs, 9);
	const given = options.runbookPath ?? sign?.path;
	if (given) {
		const found = describeFile(path.resolve(given), now);
		const evidence = [...(sign ? [signOffLine(sign, now)] : []), found ? `runbook ${found}` : `runbook ${path.resolve(given)} does not exist`];
		return {verdict: found ? 'pass' : 'fail', evidence};
	}
	const discovered = local.backend?.value?.runbooks ?? [];
	if (discovered.length) return {verdict: 'pass', evidence: discovered.map(f => `runbook in the backend checkout: ${f}`)};
	if (sign) return {verdict: 'signed-off', evidence: [signOffLine(sign, now)]};
	return {verdict: 'unknown', evidence: ['no sign-off and no runbook path (sign off with s, or give --runbook PATH)']};
}

function judgeSignOffOnly(local: LocalEvidence, id: ItemId, now: number): Judged {
	const sign = currentSignOff(local.signOffs, id);
	return sign ? {verdict: 'signed-off', evidence: [signOffLine(sign, now)]} : {verdict: 'unknown', evidence: ['no sign-off yet: the console cannot check this itself']};
}

/** Every item's verdict from the evidence; pure, so the screen and `check` judge alike. */
export function assemble(db: DbEvidence | undefined, local: LocalEvidence | undefined, options: ChecklistOptions, settings: {readOnly?: boolean; now?: number} = {}): ChecklistReport {
	const now = settings.now ?? Date.now();
	const notYet: Judged = {verdict: 'unknown', evidence: ['not checked yet']};
	const fromLocal = (judge: (l: LocalEvidence) => Judged) => (local ? {...judge(local), checkedAt: local.at} : notYet);
	const judgedBy: Record<ItemId, () => Judged & {checkedAt?: string}> = {
		1: () => judged(db?.migration, judgeMigration),
		2: () => {
			const backend = local?.backend;
			if (backend?.error) return {verdict: 'unknown', evidence: [`cannot read --backend-dir: ${backend.error}`], checkedAt: backend.at};
			return judged(db?.timeouts, t => judgeTimeouts(t, backend?.value, options));
		},
		3: () => judged(db?.plans, p => judgePlans(p, options)),
		4: () => judged(db?.latency, judgeLatency),
		5: () => (local ? judged(local.backups, b => judgeBackup(b, options, now)) : notYet),
		6: () => (local ? judged(local.backups, b => judgeRestore(b, now)) : notYet),
		7: () => judged(db?.monitoring, judgeMonitoring),
		8: () => fromLocal(l => judgeSignOffOnly(l, 8, now)),
		9: () => fromLocal(l => judgeRunbook(l, options, now)),
		10: () => fromLocal(l => judgeLoadTest(l.loadTest, currentSignOff(l.signOffs, 10), options, now)),
	};
	const results: ItemResult[] = items.map(def => {
		const j = judgedBy[def.id]();
		const action = actionText(itemDef(def.id).action, settings.readOnly ?? false);
		return {
			id: def.id,
			title: itemTitle(def, options),
			verdict: j.verdict,
			required: def.required,
			weight: def.weight,
			evidence: j.evidence,
			...(j.fix ? {fix: j.fix} : {}),
			...(j.checkedAt ? {checkedAt: j.checkedAt} : {}),
			...(action ? {action} : {}),
		};
	});
	return {at: new Date(now).toISOString(), items: results, score: scoreOf(results)};
}
