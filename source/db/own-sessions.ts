import type {Queryable} from './monitor.js';

/**
 * A name no other session has, for the sessions a job's tools open (pg_dump,
 * pg_restore, psql): they cannot report their backend pid, so the job finds
 * them by it. Within the console's intowork-db/ prefix, under 63 bytes.
 */
export function jobApplicationName(kind: string, jobId: number): string {
	return `intowork-db/${kind} ${process.pid}.${jobId}`;
}

/** The backends connected under this application_name right now. */
export async function sessionsNamed(db: Queryable, applicationName: string): Promise<number[]> {
	const r = await db.query<{pid: number}>('SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid', [applicationName]);
	return r.rows.map(row => row.pid);
}
