import {audit, auditContext} from '../audit.js';
import type {Target} from '../db/dsn.js';
import type {JobView} from './registry.js';

/** A finished job in the Activity log, after it has faded from the strip. */
export function recordJob(target: Target, role: string, job: JobView): void {
	const result = job.result ? `${job.result.outcome === 'ok' ? 'ok' : job.result.outcome}: ${job.result.text}` : 'unknown';
	audit(auditContext(target, role), {
		action: `job.${job.kind}`,
		result,
		detail: {title: job.title, startedAt: new Date(job.startedAt).toISOString(), ms: job.finishedAt ? job.finishedAt - job.startedAt : undefined},
	});
}
