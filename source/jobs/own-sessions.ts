import {sessionsNamed} from '../db/own-sessions.js';
import type {Queryable} from '../db/monitor.js';
import type {JobHandle} from './registry.js';

const everyMs = 250;

/**
 * While the work runs, registers the sessions its tools open under the job's
 * application_name (pg_dump's appears only once it has connected) and
 * unregisters those that closed. The returned stop keeps the last pids
 * registered: they stay the job's until it has finished cleaning up.
 */
export function watchOwnSessions(db: Queryable, applicationName: string, job: Pick<JobHandle, 'addPid' | 'removePid'>): () => void {
	let live = true;
	const seen = new Set<number>();
	void (async () => {
		while (live) {
			const pids = await sessionsNamed(db, applicationName).catch(() => undefined);
			if (pids && live) {
				for (const pid of pids.filter(p => !seen.has(p))) {
					seen.add(pid);
					job.addPid(pid);
				}
				for (const pid of [...seen].filter(p => !pids.includes(p))) {
					seen.delete(pid);
					job.removePid(pid);
				}
			}
			await new Promise(resolve => setTimeout(resolve, everyMs).unref?.());
		}
	})();
	return () => {
		live = false;
	};
}
