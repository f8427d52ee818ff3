import type pg from 'pg';
import {appRole, previousRevision} from '../intowork.js';
import {foreignKeysSql, schemaSql} from './schema.js';

export type SeedOptions = {
	/** 1 = the demo's volumes (200k jobs, 1M applications); tests use a small fraction. */
	scale: number;
	log?: (line: string) => void;
};

export type SeedCounts = {
	users: number;
	candidates: number;
	employers: number;
	companies: number;
	jobs: number;
	applications: number;
	duplicateApplications: number;
	accounts: number;
	duplicateAccounts: number;
	verificationTokens: number;
	duplicateVerificationTokens: number;
	notifications: number;
	sessions: number;
};

export function seedCounts(scale: number): SeedCounts {
	const n = (base: number, min: number) => Math.max(min, Math.round(base * scale));
	const candidates = n(50_000, 200);
	return {
		candidates,
		employers: n(10_000, 40),
		users: 0, // filled below: every candidate and employer is a user
		companies: n(5_000, 20),
		jobs: n(200_000, 800),
		// 20 distinct jobs per candidate, so the pairs are unique before the duplicates are added
		applications: candidates * 20,
		duplicateApplications: n(300, 6),
		accounts: n(20_000, 80),
		duplicateAccounts: n(40, 3),
		verificationTokens: n(10_000, 40),
		duplicateVerificationTokens: n(20, 2),
		notifications: n(300_000, 1000),
		sessions: n(30_000, 100),
	};
}

/** The app role's password in the demo (the role is cluster-wide, so created once). */
export const appRolePassword = 'intowork_app';

const cities = [
	'Paris', 'Paris', 'Paris', 'Lyon', 'Lyon', 'Marseille', 'Toulouse', 'Bordeaux', 'Lille', 'Nantes', 'Nice', 'Strasbourg',
	'Montpellier', 'Rennes', 'Grenoble', 'Brussels', 'Geneva', 'Luxembourg', 'London', 'Berlin', 'Amsterdam', 'Remote',
];
const titles = [
	'Backend Engineer', 'Frontend Developer', 'Data Analyst', 'Product Manager', 'DevOps Engineer', 'UX Designer',
	'Sales Executive', 'Account Manager', 'Marketing Lead', 'HR Business Partner', 'Customer Success Manager',
	'Full Stack Developer', 'Data Engineer', 'QA Engineer', 'Project Manager', 'Financial Analyst', 'Nurse', 'Accountant',
];

const sqlArray = (values: string[]) => `ARRAY[${values.map(v => `'${v.replaceAll("'", "''")}'`).join(',')}]`;

export async function seed(client: pg.Client, options: SeedOptions): Promise<SeedCounts> {
	const log = options.log ?? (() => undefined);
	const c = seedCounts(options.scale);
	c.users = c.candidates + c.employers;
	const step = async (label: string, sql: string) => {
		const started = Date.now();
		await client.query(sql);
		log(`${label} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
	};

	await client.query('SELECT setseed(0.42)');
	await step('schema', schemaSql);
	await step(
		'users',
		`INSERT INTO users (email, hashed_password, first_name, last_name, role, is_active, email_verified, created_at, updated_at)
		SELECT 'user' || i || '@example.com', '$2b$12$' || md5(i::text), 'First' || i, 'Last' || i,
			CASE WHEN i <= ${c.candidates} THEN 'candidate' ELSE 'employer' END,
			random() > 0.02, CASE WHEN random() > 0.1 THEN now() - random() * interval '700 days' END,
			now() - interval '720 days' + random() * interval '700 days', now() - random() * interval '30 days'
		FROM generate_series(1, ${c.users}) AS i`,
	);
	await step(
		'companies',
		`INSERT INTO companies (name, description, industry, size, website, location, created_at)
		SELECT 'Company ' || i, repeat('We build things. ', 8),
			(ARRAY['Tech','Health','Finance','Retail','Industry','Education','Logistics'])[1 + i % 7],
			(ARRAY['1-10','11-50','51-200','201-1000','1000+'])[1 + i % 5], 'https://company' || i || '.example',
			(${sqlArray(cities)})[1 + i % ${cities.length}], now() - random() * interval '900 days'
		FROM generate_series(1, ${c.companies}) AS i`,
	);
	await step(
		'candidates',
		`INSERT INTO candidates (user_id, phone, location, title, summary, years_of_experience, created_at)
		SELECT i, '+33 6 ' || lpad((i % 100000000)::text, 8, '0'), (${sqlArray(cities)})[1 + (i * 7) % ${cities.length}],
			(${sqlArray(titles)})[1 + i % ${titles.length}], repeat('Motivated professional. ', 6), i % 25,
			now() - interval '700 days' + random() * interval '690 days'
		FROM generate_series(1, ${c.candidates}) AS i`,
	);
	await step(
		'employers',
		`INSERT INTO employers (user_id, company_id, position, created_at)
		SELECT ${c.candidates} + i, 1 + (i - 1) % ${c.companies}, 'Recruiter', now() - random() * interval '700 days'
		FROM generate_series(1, ${c.employers}) AS i`,
	);
	await step(
		'candidate profiles',
		`INSERT INTO candidate_cvs (candidate_id, filename, file_path, file_size, mime_type, is_active, created_at)
			SELECT 1 + (i - 1) % ${c.candidates}, 'cv-' || i || '.pdf', '/uploads/cvs/' || md5(i::text) || '.pdf', 50000 + i % 400000,
				'application/pdf', i <= ${c.candidates}, now() - random() * interval '600 days'
			FROM generate_series(1, ${Math.round(c.candidates * 1.2)}) AS i;
		INSERT INTO experiences (candidate_id, title, company, location, start_date, end_date, is_current, description)
			SELECT 1 + (i - 1) % ${c.candidates}, (${sqlArray(titles)})[1 + i % ${titles.length}], 'Company ' || (1 + i % 5000),
				(${sqlArray(cities)})[1 + i % ${cities.length}], date '2010-01-01' + (i % 3000), date '2018-01-01' + (i % 1500),
				i % 3 = 0, repeat('Delivered projects. ', 4)
			FROM generate_series(1, ${c.candidates * 2}) AS i;
		INSERT INTO educations (candidate_id, school, degree, field_of_study, start_date, end_date)
			SELECT 1 + (i - 1) % ${c.candidates}, 'University ' || (1 + i % 300), (ARRAY['BSc','MSc','PhD','BTS','Licence'])[1 + i % 5],
				(ARRAY['Computer Science','Business','Design','Nursing','Law'])[1 + i % 5], date '2005-09-01' + (i % 3000), date '2009-06-30' + (i % 3000)
			FROM generate_series(1, ${Math.round(c.candidates * 1.5)}) AS i;
		INSERT INTO skills (candidate_id, name, level, years)
			SELECT 1 + (i - 1) % ${c.candidates}, (ARRAY['Python','SQL','React','Excel','Sales','Figma','Go','Communication'])[1 + i % 8],
				(ARRAY['beginner','intermediate','expert'])[1 + i % 3], i % 12
			FROM generate_series(1, ${c.candidates * 4}) AS i`,
	);
	await step(
		'jobs',
		`INSERT INTO jobs (employer_id, company_id, title, description, location, location_type, job_type, salary_min, salary_max,
			status, views_count, posted_at, expires_at, created_at, updated_at)
		SELECT e, 1 + (e - 1) % ${c.companies}, (${sqlArray(titles)})[1 + i % ${titles.length}],
			repeat(md5(i::text) || ' Join our team and help us grow. ', 8),
			(${sqlArray(cities)})[1 + floor(random() * ${cities.length})::int],
			(ARRAY['on_site','on_site','remote','hybrid'])[1 + floor(random() * 4)::int],
			(ARRAY['full_time','full_time','full_time','part_time','contract','internship','temporary'])[1 + floor(random() * 7)::int],
			s, s + 5000 + (i % 20) * 1000,
			CASE WHEN r < 0.60 THEN 'published' WHEN r < 0.85 THEN 'closed' WHEN r < 0.95 THEN 'draft' ELSE 'archived' END,
			floor(random() * 2000)::int, p, p + interval '60 days', p - interval '2 days', p
		FROM (
			SELECT i, 1 + (i - 1) % ${c.employers} AS e, random() AS r, 25000 + floor(random() * 40)::int * 1000 AS s,
				now() - random() * interval '365 days' AS p
			FROM generate_series(1, ${c.jobs}) AS i
		) g`,
	);
	const jobStep = Math.floor(c.jobs / 20);
	await step(
		'job applications',
		`INSERT INTO job_applications (job_id, candidate_id, cv_id, status, cover_letter, applied_at, updated_at)
		SELECT 1 + ((i % ${c.candidates}) * 37 + (i / ${c.candidates}) * ${jobStep}) % ${c.jobs}, 1 + i % ${c.candidates},
			1 + i % ${c.candidates},
			(ARRAY['pending','pending','pending','reviewed','interview','rejected','rejected','accepted','withdrawn'])[1 + floor(random() * 9)::int],
			CASE WHEN random() < 0.3 THEN repeat('I am very interested in this role. ', 3) END, a, a + random() * interval '10 days'
		FROM (SELECT i, now() - random() * interval '365 days' AS a FROM generate_series(0, ${c.applications - 1}) AS i) g;
		-- double submits from the app's missing unique constraint: same candidate and job, a little later
		INSERT INTO job_applications (job_id, candidate_id, cv_id, status, cover_letter, applied_at, updated_at)
		SELECT job_id, candidate_id, cv_id, 'pending', cover_letter, applied_at + interval '3 seconds', applied_at + interval '3 seconds'
		FROM job_applications WHERE id % ${Math.floor(c.applications / c.duplicateApplications)} = 0 ORDER BY id LIMIT ${c.duplicateApplications}`,
	);
	await step(
		'auth tables',
		`INSERT INTO accounts (user_id, type, provider, provider_account_id, access_token, token_type, scope, created_at)
			SELECT 1 + (i - 1) % ${c.users}, 'oauth', (ARRAY['google','github','linkedin'])[1 + i % 3], md5('acct' || i), md5('tok' || i), 'bearer',
				'openid email profile', now() - random() * interval '500 days'
			FROM generate_series(1, ${c.accounts}) AS i;
		-- the same provider account linked twice (a race in the OAuth callback)
		INSERT INTO accounts (user_id, type, provider, provider_account_id, access_token, token_type, scope, created_at)
			SELECT user_id, type, provider, provider_account_id, md5(access_token), token_type, scope, created_at + interval '1 second'
			FROM accounts ORDER BY id LIMIT ${c.duplicateAccounts};
		INSERT INTO verification_tokens (identifier, token, expires)
			SELECT 'user' || i || '@example.com', md5('verify' || i), now() + (i % 48 - 24) * interval '1 hour'
			FROM generate_series(1, ${c.verificationTokens}) AS i;
		INSERT INTO verification_tokens (identifier, token, expires)
			SELECT identifier, token, expires FROM verification_tokens ORDER BY id LIMIT ${c.duplicateVerificationTokens};
		INSERT INTO sessions (session_token, user_id, expires, created_at)
			SELECT md5('session' || i), 1 + (i * 13) % ${c.users}, now() + (i % 30) * interval '1 day', now() - (i % 30) * interval '1 day'
			FROM generate_series(1, ${c.sessions}) AS i;
		INSERT INTO password_reset_tokens (user_id, token, expires_at, used, created_at)
			SELECT 1 + (i * 7) % ${c.users}, md5('reset' || i), now() + interval '1 hour' - (i % 100) * interval '1 day', i % 4 = 0,
				now() - (i % 100) * interval '1 day'
			FROM generate_series(1, ${Math.max(20, Math.round(c.users / 12))}) AS i`,
	);
	await step(
		'notifications',
		`INSERT INTO notifications (user_id, type, title, message, is_read, related_job_id, created_at)
		SELECT 1 + (i * 31) % ${c.users}, (ARRAY['application_status','new_job','message','reminder'])[1 + i % 4], 'Update ' || i,
			'Your application has a new status.', random() < 0.7, 1 + i % ${c.jobs}, now() - random() * interval '200 days'
		FROM generate_series(1, ${c.notifications}) AS i`,
	);
	await step('foreign keys', foreignKeysSql);
	await client.query('INSERT INTO alembic_version (version_num) VALUES ($1)', [previousRevision]);
	await step(
		'app role',
		`DO $$ BEGIN
			IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${appRole}') THEN
				CREATE ROLE ${appRole} LOGIN PASSWORD '${appRolePassword}';
			END IF;
		END $$;
		GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${appRole};
		GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${appRole}`,
	);
	await step('vacuum analyze', 'VACUUM ANALYZE');
	return c;
}
