import type pg from 'pg';

export type AppQueryId = 'job_list' | 'application_list' | 'employer_applications' | 'dashboard' | 'notifications';

/** The id ranges the backend's random traffic draws from; ids are serial, so 1..max all exist. */
export type AppQueryContext = {maxCandidate: number; maxEmployer: number; maxJob: number; maxUser: number};

export async function appQueryContext(client: {query: pg.Client['query']}): Promise<AppQueryContext> {
	const {rows} = await client.query<{max_candidate: number; max_employer: number; max_job: number; max_user: number}>(
		`SELECT (SELECT coalesce(max(id), 0) FROM candidates) AS max_candidate,
			(SELECT coalesce(max(id), 0) FROM employers) AS max_employer,
			(SELECT coalesce(max(id), 0) FROM jobs) AS max_job,
			(SELECT coalesce(max(id), 0) FROM users) AS max_user`,
	);
	const row = rows[0]!; // an aggregate without FROM always returns its one row
	return {maxCandidate: row.max_candidate, maxEmployer: row.max_employer, maxJob: row.max_job, maxUser: row.max_user};
}

export type AppQuery = {
	id: AppQueryId;
	label: string;
	/** as SQLAlchemy sends it: every value a bind parameter, so pg_stat_statements groups the calls under one entry */
	sql: string;
	params(ctx: AppQueryContext, random: () => number): unknown[];
	/** the p95 the production checklist holds the query to */
	targetMs?: number;
};

// Values the seed really uses, weighted like the traffic: most searches are
// for the big cities, and seed.ts puts Paris in 3 of its 22 slots.
const searchedCities = ['Paris', 'Paris', 'Paris', 'Lyon', 'Lyon', 'Marseille', 'Toulouse', 'Bordeaux', 'Lille', 'Nantes', 'Brussels', 'Geneva', 'Remote'];
const locationTypes = ['on_site', 'remote', 'hybrid'];
const jobTypes = ['full_time', 'part_time', 'contract', 'internship', 'temporary'];
// Recruiters mostly triage what is new.
const reviewedStatuses = ['pending', 'pending', 'pending', 'reviewed', 'interview'];

const pick = <T>(values: readonly T[], random: () => number): T => values[Math.floor(random() * values.length)]!;
const randomId = (max: number, random: () => number) => 1 + Math.floor(random() * Math.max(1, max));

export const appQueries: Record<AppQueryId, AppQuery> = {
	job_list: {
		id: 'job_list',
		label: 'Job search (GET /jobs)',
		// Without idx_jobs_status_location_type nothing narrows the published
		// jobs of one location type, so every search reads the whole table.
		sql: `SELECT j.id, j.title, j.location, j.location_type, j.job_type, j.salary_min, j.salary_max, j.salary_currency,
	j.views_count, j.posted_at, c.name AS company_name
FROM jobs j
JOIN companies c ON c.id = j.company_id
WHERE j.status = $1 AND j.location = $2 AND j.location_type = $3 AND ($4::varchar IS NULL OR j.job_type = $4)
ORDER BY j.posted_at DESC
LIMIT 20`,
		// Half the searches leave the contract type open, as the filter is optional in the UI.
		params: (_ctx, random) => ['published', pick(searchedCities, random), pick(locationTypes, random), random() < 0.5 ? null : pick(jobTypes, random)],
		targetMs: 100,
	},
	application_list: {
		id: 'application_list',
		label: "Candidate's applications (GET /applications/my)",
		sql: `SELECT a.id, a.job_id, a.status, a.applied_at, a.updated_at, j.title AS job_title, j.location, c.name AS company_name
FROM job_applications a
JOIN jobs j ON j.id = a.job_id
JOIN companies c ON c.id = j.company_id
WHERE a.candidate_id = $1
ORDER BY a.applied_at DESC
LIMIT 50`,
		params: (ctx, random) => [randomId(ctx.maxCandidate, random)],
		targetMs: 50,
	},
	employer_applications: {
		id: 'employer_applications',
		label: "A job's applicants by status (GET /jobs/{id}/applications)",
		sql: `SELECT a.id, a.candidate_id, a.status, a.applied_at, u.first_name, u.last_name, u.email, cand.title AS candidate_title
FROM job_applications a
JOIN candidates cand ON cand.id = a.candidate_id
JOIN users u ON u.id = cand.user_id
WHERE a.job_id = $1 AND a.status = $2
ORDER BY a.applied_at DESC
LIMIT 50`,
		params: (ctx, random) => [randomId(ctx.maxJob, random), pick(reviewedStatuses, random)],
	},
	dashboard: {
		id: 'dashboard',
		label: 'Employer dashboard counts (GET /dashboard)',
		sql: `SELECT a.status, count(*) AS applications
FROM job_applications a
JOIN jobs j ON j.id = a.job_id
WHERE j.employer_id = $1
GROUP BY a.status
ORDER BY a.status`,
		params: (ctx, random) => [randomId(ctx.maxEmployer, random)],
	},
	notifications: {
		id: 'notifications',
		label: 'Unread notifications (GET /notifications)',
		sql: `SELECT n.id, n.type, n.title, n.message, n.related_job_id, n.created_at
FROM notifications n
WHERE n.user_id = $1 AND n.is_read = $2
ORDER BY n.created_at DESC
LIMIT 20`,
		params: (ctx, random) => [randomId(ctx.maxUser, random), false],
	},
};

/** A fixed-seed generator (mulberry32): the same parameters every run, so a plan or timing change means the database changed. */
export function seededRandom(seed: number): () => number {
	let a = seed;
	return () => {
		a = (a + 0x6d2b79f5) | 0;
		let t = Math.imul(a ^ (a >>> 15), 1 | a);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}
