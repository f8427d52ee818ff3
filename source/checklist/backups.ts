import crypto from 'node:crypto';
import fs from 'node:fs';
import {latestBackup, readCatalog, type BackupRecord} from '../actions/backup/catalog.js';
import {formatBytes, formatDuration} from '../format.js';
import type {TargetKey} from '../state.js';
import type {ChecklistOptions, Verdict} from './items.js';

export type FileCheck = 'ok' | 'missing' | 'size differs' | 'checksum differs';

export type BackupEvidence = {
	/** the newest backup still on disk */
	latest?: BackupRecord;
	/** the newest backup whose file is there with its recorded size and sha256 */
	verified?: BackupRecord;
	/** newer backups that failed verification, and why */
	unverified: Array<{record: BackupRecord; check: FileCheck}>;
	/** the newest backup whose restore test passed */
	restoreTested?: BackupRecord;
	/** the latest backup's file against the size and sha256 its restore test restored: a result holds only while they match */
	latestTestedFile?: FileCheck;
};

// A dump is hashed once per version of its file, not on every refresh.
const hashes = new Map<string, string>();

async function sha256(file: string): Promise<string> {
	const hash = crypto.createHash('sha256');
	for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
	return hash.digest('hex');
}

export async function checkFile(record: Pick<BackupRecord, 'file' | 'sizeBytes' | 'sha256'>): Promise<FileCheck> {
	let stat: fs.Stats;
	try {
		stat = fs.statSync(record.file);
	} catch {
		return 'missing';
	}
	if (stat.size !== record.sizeBytes) return 'size differs';
	const key = `${record.file}\0${stat.size}\0${stat.mtimeMs}`;
	let digest = hashes.get(key);
	if (digest === undefined) {
		digest = await sha256(record.file);
		hashes.set(key, digest);
	}
	return digest === record.sha256 ? 'ok' : 'checksum differs';
}

export async function readBackups(key: TargetKey, env: NodeJS.ProcessEnv = process.env): Promise<BackupEvidence> {
	const records = readCatalog(key, env);
	const onDisk = records.filter(r => !r.removedAt).sort((a, b) => b.finishedAt.localeCompare(a.finishedAt));
	const evidence: BackupEvidence = {latest: latestBackup(records), unverified: [], restoreTested: latestBackup(records, {restoreTested: true})};
	for (const record of onDisk) {
		const check = await checkFile(record);
		if (check === 'ok') {
			evidence.verified = record;
			break;
		}
		evidence.unverified.push({record, check});
	}
	const test = evidence.latest?.restoreTest;
	if (evidence.latest && test) evidence.latestTestedFile = await checkFile({file: evidence.latest.file, sizeBytes: test.sizeBytes ?? evidence.latest.sizeBytes, sha256: test.sha256 ?? evidence.latest.sha256});
	return evidence;
}

const age = (r: BackupRecord, now: number) => now - new Date(r.finishedAt).getTime();
const describe = (r: BackupRecord, now: number) => `${r.id} (${r.format}, ${formatBytes(r.sizeBytes)}, finished ${formatDuration(age(r, now))} ago)`;

export function judgeBackup(e: BackupEvidence, options: ChecklistOptions, now = Date.now()): {verdict: Verdict; evidence: string[]} {
	const evidence: string[] = [];
	for (const u of e.unverified) evidence.push(`backup ${describe(u.record, now)}: file ${u.check}`);
	if (!e.verified) {
		evidence.push(e.latest ? 'no backup on disk verifies against its recorded sha256' : 'no backup in the catalog');
		return {verdict: 'fail', evidence};
	}
	const fresh = age(e.verified, now) <= options.backupMaxAgeMs;
	evidence.push(`verified backup ${describe(e.verified, now)}: size and sha256 match`);
	if (!fresh) evidence.push(`older than ${formatDuration(options.backupMaxAgeMs)}: the nightly backup is not running`);
	return {verdict: fresh ? 'pass' : 'fail', evidence};
}

export function judgeRestore(e: BackupEvidence, now = Date.now()): {verdict: Verdict; evidence: string[]} {
	const latest = e.latest;
	if (!latest) return {verdict: 'fail', evidence: ['no backup in the catalog to restore']};
	const test = latest.restoreTest;
	const evidence: string[] = [];
	// A result is about the bytes that were restored; once the file differs from them it proves nothing.
	const stillSame = e.latestTestedFile === 'ok';
	if (!test) evidence.push(`latest backup ${describe(latest, now)} has not been restore-tested`);
	else if (test.passed && !stillSame) {
		const since = {missing: 'is gone', 'size differs': 'has another size', 'checksum differs': 'has another sha256', ok: '', unchecked: 'was not checked'}[e.latestTestedFile ?? 'unchecked'];
		evidence.push(`latest backup ${latest.id} passed a restore test ${formatDuration(now - new Date(test.at).getTime())} ago, but its file ${since} since the test: that result no longer counts; take a new backup and restore-test it`);
	} else if (test.passed) {
		evidence.push(`latest backup ${latest.id} restored into ${test.scratchDatabase} ${formatDuration(now - new Date(test.at).getTime())} ago in ${formatDuration(test.durationMs)}: row counts and objects match, and the file still has the size and sha256 it was tested with`);
	} else {
		evidence.push(`latest backup ${latest.id}: restore test failed ${formatDuration(now - new Date(test.at).getTime())} ago`);
		evidence.push(...test.differences.slice(0, 3).map(d => `  ${d}`));
		if (test.differences.length > 3) evidence.push(`  and ${test.differences.length - 3} more differences`);
	}
	const passed = test?.passed === true && stillSame;
	if (!passed && e.restoreTested && e.restoreTested !== latest) evidence.push(`last passed restore test: backup ${describe(e.restoreTested, now)}`);
	return {verdict: passed ? 'pass' : 'fail', evidence};
}
