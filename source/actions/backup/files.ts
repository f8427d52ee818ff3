import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {setImmediate as yieldToEventLoop} from 'node:timers/promises';
import {formatBytes} from '../../format.js';
import {targetStateDir, type TargetKey} from '../../state.js';

export type BackupFormat = 'custom' | 'plain';

export const extensions: Record<BackupFormat, string> = {custom: '.dump', plain: '.sql.gz'};

/** Where backups of a target go unless --dir says otherwise. */
export function defaultBackupDir(key: TargetKey, env: NodeJS.ProcessEnv = process.env): string {
	return path.join(targetStateDir(key, env), 'backups');
}

/** Backups hold every row of the database: only their owner may enter the directory. */
export function ensureBackupDir(dir: string): string {
	const abs = path.resolve(dir);
	fs.mkdirSync(abs, {recursive: true, mode: 0o700});
	if (!fs.statSync(abs).isDirectory()) throw new Error(`${abs} is not a directory`);
	fs.accessSync(abs, fs.constants.W_OK);
	return abs;
}

function stamp(at: Date): string {
	return at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/**
 * A new backup's name, `<db>_<UTC time>[-n].dump`, claimed by creating its
 * partial file exclusively (mode 0600): a cron backup starting in the same
 * second as the console's gets the next n, and nothing is ever overwritten.
 */
export function claimBackupPath(dir: string, database: string, at: Date, format: BackupFormat): {file: string; partial: string} {
	const safe = database.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60) || 'database';
	const base = `${safe}_${stamp(at)}`;
	for (let n = 1; ; n++) {
		const file = path.join(dir, `${n === 1 ? base : `${base}-${n}`}${extensions[format]}`);
		if (fs.existsSync(file) || fs.existsSync(sidecarPath(file))) continue;
		const partial = partialPath(file);
		try {
			fs.closeSync(fs.openSync(partial, 'wx', 0o600));
			return {file, partial};
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
		}
	}
}

/** The name a file has while it is written: never mistaken for a backup. */
function partialPath(file: string): string {
	return `${file}.partial`;
}

/** In sha256sum's format, so `sha256sum -c FILE.sha256` checks a copy anywhere. */
export function sidecarPath(file: string): string {
	return `${file}.sha256`;
}

export function readSidecar(file: string): string | undefined {
	try {
		return /^([0-9a-f]{64})\s/.exec(fs.readFileSync(sidecarPath(file), 'utf8'))?.[1];
	} catch {
		return undefined;
	}
}

/**
 * Reads a MiB at a time synchronously and yields between reads: a read
 * stream hands every chunk from the thread pool to the event loop, and on a
 * busy machine each of those hand-offs waits for a time slice, which made
 * the checksum of a freshly written dump (in the page cache) take twice as
 * long. One MiB keeps the event loop free between reads even from disk.
 */
export async function sha256File(file: string, options: {signal?: AbortSignal; onBytes?(bytes: number): void} = {}): Promise<string> {
	const hash = crypto.createHash('sha256');
	const chunk = Buffer.allocUnsafe(1 << 20);
	const fd = fs.openSync(file, 'r');
	try {
		for (let bytes = 0; ; ) {
			options.signal?.throwIfAborted();
			const n = fs.readSync(fd, chunk, 0, chunk.length, null);
			if (n === 0) break;
			hash.update(chunk.subarray(0, n));
			bytes += n;
			options.onBytes?.(bytes);
			await yieldToEventLoop();
		}
	} finally {
		fs.closeSync(fd);
	}
	return hash.digest('hex');
}

function syncDir(dir: string): void {
	const fd = fs.openSync(dir, 'r');
	try {
		fs.fsyncSync(fd);
	} finally {
		fs.closeSync(fd);
	}
}

function writeNew(file: string, text: string): void {
	const fd = fs.openSync(file, 'wx', 0o600);
	try {
		fs.writeSync(fd, text);
		fs.fsyncSync(fd);
	} finally {
		fs.closeSync(fd);
	}
}

/**
 * Gives the finished partial file its real name, checksum first so a file
 * with the real name always has one. link() fails rather than replace an
 * existing file, which rename() would silently do.
 */
export function publish(partial: string, file: string, sha256: string): void {
	writeNew(sidecarPath(file), `${sha256}  ${path.basename(file)}\n`);
	try {
		fs.linkSync(partial, file);
	} catch (error) {
		fs.rmSync(sidecarPath(file), {force: true});
		throw error;
	}
	fs.rmSync(partial, {force: true});
	syncDir(path.dirname(file));
}

/** Removes a backup and its checksum; one already gone is not an error. */
export function removeBackupFiles(file: string): void {
	fs.rmSync(file, {force: true});
	fs.rmSync(sidecarPath(file), {force: true});
}

export type DiskSpace = {free: number; total: number};

export function diskSpace(dir: string): DiskSpace {
	const s = fs.statfsSync(dir);
	return {free: s.bavail * s.bsize, total: s.blocks * s.bsize};
}

/** What must stay free besides the backup, so a backup never fills the disk it shares with everything else. */
export function reserveBytes(space: DiskSpace): number {
	return Math.min(1024 ** 3, Math.floor(space.total * 0.02));
}

/** Why the backup would not fit, or undefined when it will. */
export function spaceShortfall(dir: string, space: DiskSpace, estimate: {bytes: number; basis: string}): string | undefined {
	const reserve = reserveBytes(space);
	if (space.free >= estimate.bytes + reserve) return undefined;
	return `not enough free space in ${dir}: ${formatBytes(space.free)} free, the backup needs about ${formatBytes(estimate.bytes)} (${estimate.basis}) and ${formatBytes(reserve)} must stay free`;
}

export type ChecksumCheck = {state: 'ok' | 'missing' | 'mismatch'; reason?: string};

/** Size first, which catches a truncated file at once; then every byte. */
export async function verifyChecksum(file: string, expected: {sha256: string; sizeBytes?: number}, options: {signal?: AbortSignal; onBytes?(bytes: number): void} = {}): Promise<ChecksumCheck> {
	let size: number;
	try {
		size = fs.statSync(file).size;
	} catch {
		return {state: 'missing', reason: `${file} is missing`};
	}
	if (expected.sizeBytes !== undefined && size !== expected.sizeBytes) {
		return {state: 'mismatch', reason: `checksum failed: ${file} is ${size} bytes, the backup was ${expected.sizeBytes} bytes (truncated or replaced)`};
	}
	const actual = await sha256File(file, options);
	if (actual !== expected.sha256) {
		return {state: 'mismatch', reason: `checksum failed: ${file} has sha256 ${actual.slice(0, 16)}…, the backup had ${expected.sha256.slice(0, 16)}… (the file changed after the backup)`};
	}
	return {state: 'ok'};
}
