/**
 * IntoWork's facts the console relies on, in one place: production code and
 * the demo both read them here (the demo builds its database to match them).
 */

/** The revision before the indexing migration: where the database is today. */
export const previousRevision = 'g7b1c5d4e3f2';
/** The built-in plan's target: the 14 indexes and 3 unique constraints (a --migration-plan file may name another). */
export const migrationRevision = 'h8c2d6e5f4g3';

/** The 15 tables; most of them present is how the console recognises an IntoWork database. */
export const intoworkTables = [
	'users',
	'candidates',
	'candidate_cvs',
	'experiences',
	'educations',
	'skills',
	'companies',
	'employers',
	'jobs',
	'job_applications',
	'sessions',
	'accounts',
	'password_reset_tokens',
	'verification_tokens',
	'notifications',
] as const;

/** The login role of the FastAPI backend, whose statement_timeout the checklist checks (--app-role names another). */
export const appRole = 'intowork_app';
