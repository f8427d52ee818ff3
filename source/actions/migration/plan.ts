import fs from 'node:fs';
import {appQueries, type AppQueryId} from '../../db/app-queries.js';
import {quoteIdent, quoteLiteral} from '../../db/sql.js';
import {migrationRevision, previousRevision} from '../../intowork.js';
import {UsageError} from '../../errors.js';

/** One index or unique constraint the migration adds. */
export type PlanObject = {
	name: string;
	table: string;
	columns: string[];
	/** partial index predicate, SQL over the table's own columns */
	where?: string;
	/** a unique constraint: built as a unique index, then attached with ADD CONSTRAINT ... USING INDEX */
	unique: boolean;
	/** unique only: the ORDER BY that puts the row to keep first when duplicates are archived (default: the primary key) */
	keep?: string[];
	/** the application query it serves */
	serves: string;
	/** why it exists, for the operator reading the plan */
	why: string;
};

export type MigrationPlan = {
	/** the Alembic revision the migration brings alembic_version to */
	revision: string;
	/** the revision it starts from, and that a downgrade restores */
	previousRevision: string;
	/** where the tables and alembic_version live */
	schema: string;
	/** where duplicate rows are moved before a unique constraint is added */
	archiveSchema: string;
	objects: PlanObject[];
};

export type ObjectKind = 'index' | 'unique';

export const objectKind = (o: PlanObject): ObjectKind => (o.unique ? 'unique' : 'index');

const serves = (id: AppQueryId) => `${id}: ${appQueries[id].label}`;

// Differences from the Alembic file this replaces, for whoever compares them:
// idx_job_applications_candidate_job duplicated unique_candidate_job_application;
// idx_sessions_expires had `WHERE expires < NOW()`, which PostgreSQL rejects
// (index predicates must be immutable); idx_password_reset_tokens_expires
// named a used_at column the table does not have. The job, application and
// notification indexes carry the ORDER BY column so LIMIT queries stop early.
//
// The unique constraints come first: every minute between archiving the
// duplicates and the unique index lets new double submits in.
export const builtinPlan: MigrationPlan = {
	revision: migrationRevision,
	previousRevision,
	schema: 'public',
	archiveSchema: 'intowork_archive',
	objects: [
		{
			name: 'unique_candidate_job_application',
			table: 'job_applications',
			columns: ['candidate_id', 'job_id'],
			unique: true,
			keep: ['applied_at', 'id'],
			serves: 'POST /jobs/{id}/apply: the "already applied?" check (NOT EXISTS on job_id, candidate_id)',
			why: 'A double click on Apply stores two applications; the constraint refuses the second one, and its index answers the existence check.',
		},
		{
			name: 'unique_user_provider_account',
			table: 'accounts',
			columns: ['provider', 'provider_account_id'],
			unique: true,
			keep: ['created_at', 'id'],
			serves: "NextAuth getUserByAccount (provider, provider_account_id) on every OAuth sign-in",
			why: 'A race in the OAuth callback links the same provider account twice, and sign-in then picks either user; one provider account must map to one row.',
		},
		{
			name: 'unique_verification_identifier_token',
			table: 'verification_tokens',
			columns: ['identifier', 'token'],
			unique: true,
			keep: ['id'],
			serves: 'NextAuth useVerificationToken (DELETE ... WHERE identifier = $1 AND token = $2)',
			why: 'A token must be usable once; duplicated rows let a consumed e-mail link work a second time.',
		},
		{
			name: 'idx_jobs_status_location_type',
			table: 'jobs',
			columns: ['location_type', 'location', 'posted_at'],
			where: "status = 'published'",
			unique: false,
			serves: serves('job_list'),
			why: 'Equality on location type and city, rows already in posted_at order: LIMIT 20 reads 20 index entries backwards instead of every job plus a sort. Partial: closed, draft and archived jobs are never searched and only grow.',
		},
		{
			name: 'idx_jobs_status_job_type',
			table: 'jobs',
			columns: ['job_type', 'posted_at'],
			where: "status = 'published'",
			unique: false,
			serves: 'GET /jobs?job_type= without a city, and the contract-type facet counts',
			why: 'The contract-type filter without a city has nothing else to narrow published jobs; posted_at gives the page order.',
		},
		{
			name: 'idx_jobs_employer_id_status',
			table: 'jobs',
			columns: ['employer_id', 'status'],
			unique: false,
			serves: serves('dashboard'),
			why: "Finds one employer's jobs before joining their applications (and the employer's job list by status); also the ON DELETE CASCADE from employers, which otherwise scans all jobs.",
		},
		{
			name: 'idx_jobs_company_id_status',
			table: 'jobs',
			columns: ['company_id', 'status'],
			unique: false,
			serves: "GET /companies/{id}: the company's open jobs",
			why: 'The company page lists its published jobs; deleting a company checks jobs_company_id_fkey, a full scan of jobs without it.',
		},
		{
			name: 'idx_job_applications_job_id_status',
			table: 'job_applications',
			columns: ['job_id', 'status', 'applied_at'],
			unique: false,
			serves: serves('employer_applications'),
			why: "A job's applicants in one status, newest first, straight from the index; also the dashboard's join per job and the ON DELETE CASCADE from jobs.",
		},
		{
			name: 'idx_job_applications_candidate_id_status',
			table: 'job_applications',
			columns: ['candidate_id', 'status'],
			unique: false,
			serves: serves('application_list'),
			why: "A candidate's applications (tens of rows, sorted in memory) and the status tabs of that list; also the ON DELETE CASCADE from candidates.",
		},
		{
			name: 'idx_job_applications_cv_id',
			table: 'job_applications',
			columns: ['cv_id'],
			unique: false,
			serves: 'DELETE /cvs/{id}: job_applications_cv_id_fkey ON DELETE SET NULL',
			why: 'Deleting a CV sets cv_id to NULL in the applications that used it; without an index every deletion scans all applications.',
		},
		{
			name: 'idx_notifications_user_id_is_read',
			table: 'notifications',
			columns: ['user_id', 'is_read', 'created_at'],
			unique: false,
			serves: serves('notifications'),
			why: "One user's unread notifications, newest first, read from the index; also the ON DELETE CASCADE from users.",
		},
		{
			name: 'idx_notifications_unread_created_at',
			table: 'notifications',
			columns: ['created_at'],
			where: 'is_read = false',
			unique: false,
			serves: 'the notification worker: the oldest 100 unread (WHERE is_read = $1 ORDER BY created_at LIMIT 100)',
			why: 'The worker pages through unread notifications in age order; partial because most notifications are read and stay read.',
		},
		{
			name: 'idx_candidates_user_id',
			table: 'candidates',
			columns: ['user_id'],
			unique: false,
			serves: 'every candidate API call: the candidate row of the session user',
			why: "The API resolves the signed-in user's candidate profile on each request; also the ON DELETE CASCADE from users.",
		},
		{
			name: 'idx_employers_user_id',
			table: 'employers',
			columns: ['user_id'],
			unique: false,
			serves: 'every employer API call, including the dashboard: the employer row of the session user',
			why: "The employer side resolves the signed-in user's employer row on each request; also the ON DELETE CASCADE from users.",
		},
		{
			name: 'idx_candidate_cvs_candidate_id_active',
			table: 'candidate_cvs',
			columns: ['candidate_id', 'is_active'],
			unique: false,
			serves: "GET /candidates/me and POST /jobs/{id}/apply: the candidate's active CV",
			why: "Applying attaches the candidate's active CV and the profile lists the CVs; also the ON DELETE CASCADE from candidates.",
		},
		{
			name: 'idx_skills_candidate_id_name',
			table: 'skills',
			columns: ['candidate_id', 'name'],
			unique: false,
			serves: "GET /candidates/{id}: the profile's skills, and skill matching",
			why: 'The largest profile table (four rows per candidate) is read per candidate on every profile view; also the ON DELETE CASCADE from candidates.',
		},
		{
			name: 'idx_experiences_candidate_id_current',
			table: 'experiences',
			columns: ['candidate_id', 'is_current'],
			unique: false,
			serves: "GET /candidates/{id}: the profile's experience timeline and current position",
			why: 'Read per candidate on every profile view; also the ON DELETE CASCADE from candidates.',
		},
	],
};

// ---------------------------------------------------------------- validation

/** A problem in a plan file, with the JSON path it is at. */
class PlanProblem extends Error {}

const fail = (where: string, what: string): never => {
	throw new PlanProblem(`${where}: ${what}`);
};

// PostgreSQL truncates longer names to NAMEDATALEN - 1 bytes, so two long names could collide silently.
const maxIdentifierBytes = 63;

function identifier(value: unknown, where: string): string {
	if (typeof value !== 'string' || value.length === 0) return fail(where, 'expected a non-empty name');
	if (Buffer.byteLength(value, 'utf8') > maxIdentifierBytes) return fail(where, `"${value.slice(0, 70)}" is longer than ${maxIdentifierBytes} bytes`);
	if (/[\u0000-\u001f\u007f]/.test(value)) return fail(where, 'control characters are not allowed in a name');
	return value;
}

function text(value: unknown, where: string): string {
	if (typeof value !== 'string' || value.trim() === '') return fail(where, 'expected a non-empty string');
	return value;
}

function names(value: unknown, where: string): string[] {
	if (!Array.isArray(value) || value.length === 0) return fail(where, 'expected a non-empty array of column names');
	const out = value.map((v, i) => identifier(v, `${where}[${i}]`));
	const seen = new Set<string>();
	for (const name of out) {
		if (seen.has(name)) fail(where, `column "${name}" is listed twice`);
		seen.add(name);
	}
	return out;
}

// A predicate is spliced into DDL: one expression, nothing that could end the statement or hide text.
function predicate(value: unknown, where: string): string {
	const sql = text(value, where).trim();
	if (/;|--|\/\*/.test(sql)) return fail(where, 'a predicate is one SQL expression: no ";" and no comments');
	if (/[\u0000-\u001f\u007f]/.test(sql.replace(/[\t\n\r]/g, ' '))) return fail(where, 'control characters are not allowed');
	return sql;
}

function keepOrder(value: unknown, where: string): string[] {
	if (!Array.isArray(value) || value.length === 0) return fail(where, 'expected a non-empty array of column names');
	return value.map((v, i) => identifier(v, `${where}[${i}]`));
}

function revision(value: unknown, where: string): string {
	// alembic_version.version_num is varchar(32)
	if (typeof value !== 'string' || !/^[A-Za-z0-9_]{1,32}$/.test(value)) return fail(where, 'expected an Alembic revision id (letters, digits, _; at most 32)');
	return value;
}

function onlyKeys(value: Record<string, unknown>, allowed: readonly string[], where: string) {
	for (const key of Object.keys(value)) if (!allowed.includes(key)) fail(where, `unknown field "${key}" (expected ${allowed.join(', ')})`);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const objectKeys = ['name', 'table', 'columns', 'where', 'unique', 'keep', 'serves', 'why'] as const;
const planKeys = ['revision', 'previousRevision', 'schema', 'archiveSchema', 'objects'] as const;

function planObject(value: unknown, where: string): PlanObject {
	if (!isRecord(value)) return fail(where, 'expected an object');
	onlyKeys(value, objectKeys, where);
	if (typeof value.unique !== 'boolean') fail(`${where}.unique`, 'expected true or false');
	const unique = value.unique as boolean;
	const object: PlanObject = {
		name: identifier(value.name, `${where}.name`),
		table: identifier(value.table, `${where}.table`),
		columns: names(value.columns, `${where}.columns`),
		unique,
		serves: text(value.serves, `${where}.serves`),
		why: text(value.why, `${where}.why`),
	};
	if (value.where !== undefined) {
		// ADD CONSTRAINT ... USING INDEX accepts neither partial nor expression indexes.
		if (unique) fail(`${where}.where`, 'a unique constraint cannot be partial (use a non-unique object for a partial index)');
		object.where = predicate(value.where, `${where}.where`);
	}
	if (value.keep !== undefined) {
		if (!unique) fail(`${where}.keep`, 'only a unique object has duplicates to keep');
		object.keep = keepOrder(value.keep, `${where}.keep`);
	}
	return object;
}

/** Checks a parsed plan document strictly; the error names the field and what is wrong with it. */
export function validatePlan(document: unknown): MigrationPlan {
	if (!isRecord(document)) return fail('plan', 'expected a JSON object');
	onlyKeys(document, planKeys, 'plan');
	if (!Array.isArray(document.objects) || document.objects.length === 0) fail('objects', 'expected a non-empty array');
	const plan: MigrationPlan = {
		revision: revision(document.revision, 'revision'),
		previousRevision: revision(document.previousRevision, 'previousRevision'),
		schema: document.schema === undefined ? 'public' : identifier(document.schema, 'schema'),
		archiveSchema: document.archiveSchema === undefined ? 'intowork_archive' : identifier(document.archiveSchema, 'archiveSchema'),
		objects: (document.objects as unknown[]).map((o, i) => planObject(o, `objects[${i}]`)),
	};
	if (plan.revision === plan.previousRevision) fail('previousRevision', 'must differ from revision');
	if (plan.archiveSchema === plan.schema) fail('archiveSchema', 'must differ from schema, or archived rows would sit next to the live tables');
	// Index and constraint names share the schema's relation namespace.
	const seen = new Set<string>();
	plan.objects.forEach((o, i) => {
		if (seen.has(o.name)) fail(`objects[${i}].name`, `"${o.name}" is used twice`);
		seen.add(o.name);
	});
	return plan;
}

/** Reads and validates a --migration-plan file; any problem is one UsageError line naming the file. */
export function loadPlanFile(file: string): MigrationPlan {
	let raw: string;
	try {
		raw = fs.readFileSync(file, 'utf8');
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code;
		const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (error as Error).message;
		throw new UsageError(`--migration-plan ${file}: cannot read: ${why}`);
	}
	let document: unknown;
	try {
		document = JSON.parse(raw);
	} catch (error) {
		throw new UsageError(`--migration-plan ${file}: not valid JSON: ${(error as Error).message}`);
	}
	try {
		return validatePlan(document);
	} catch (error) {
		if (error instanceof PlanProblem) throw new UsageError(`--migration-plan ${file}: ${error.message}`);
		throw error;
	}
}

// ---------------------------------------------------------------- SQL

export const qualified = (plan: MigrationPlan, name: string) => `${quoteIdent(plan.schema)}.${quoteIdent(name)}`;

export function createIndexSql(plan: MigrationPlan, o: PlanObject): string {
	const columns = o.columns.map(quoteIdent).join(', ');
	const where = o.where ? ` WHERE ${o.where}` : '';
	return `CREATE ${o.unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${quoteIdent(o.name)} ON ${qualified(plan, o.table)} (${columns})${where}`;
}

export const dropIndexSql = (plan: MigrationPlan, o: PlanObject) => `DROP INDEX CONCURRENTLY IF EXISTS ${qualified(plan, o.name)}`;

export const addConstraintSql = (plan: MigrationPlan, o: PlanObject) =>
	`ALTER TABLE ${qualified(plan, o.table)} ADD CONSTRAINT ${quoteIdent(o.name)} UNIQUE USING INDEX ${quoteIdent(o.name)}`;

export const dropConstraintSql = (plan: MigrationPlan, o: PlanObject) => `ALTER TABLE ${qualified(plan, o.table)} DROP CONSTRAINT IF EXISTS ${quoteIdent(o.name)}`;

export const lockTimeoutSql = (ms: number) => `SET lock_timeout = ${quoteLiteral(`${Math.round(ms)}ms`)}`;

/** Guarded by the expected current value, so a concurrent Alembic run is never overwritten. */
export const alembicUpdateSql = (plan: MigrationPlan) => `UPDATE ${qualified(plan, 'alembic_version')} SET version_num = $1 WHERE version_num = $2`;

/** The same statement with its values inlined, for printing. */
export const alembicUpdateText = (plan: MigrationPlan, to: string, from: string) =>
	`UPDATE ${qualified(plan, 'alembic_version')} SET version_num = ${quoteLiteral(to)} WHERE version_num = ${quoteLiteral(from)}`;

/** The plan in the --migration-plan file format, for an operator to start their own from. */
export function planDocument(plan: MigrationPlan): string {
	return JSON.stringify(plan, null, '\t');
}
