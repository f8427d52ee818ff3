// The IntoWork schema as Alembic leaves it at the revision before
// h8c2d6e5f4g3: primary keys, users.email and sessions.session_token unique,
// foreign keys without indexes, and none of that migration's indexes or
// unique constraints.
export const schemaSql = `
CREATE TABLE alembic_version (
	version_num varchar(32) NOT NULL PRIMARY KEY
);

CREATE TABLE users (
	id serial PRIMARY KEY,
	email varchar(255) NOT NULL UNIQUE,
	hashed_password varchar(255),
	first_name varchar(100),
	last_name varchar(100),
	role varchar(20) NOT NULL DEFAULT 'candidate',
	is_active boolean NOT NULL DEFAULT true,
	email_verified timestamptz,
	image varchar(500),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE candidates (
	id serial PRIMARY KEY,
	user_id integer NOT NULL,
	phone varchar(30),
	location varchar(255),
	title varchar(255),
	summary text,
	years_of_experience integer,
	linkedin_url varchar(500),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE candidate_cvs (
	id serial PRIMARY KEY,
	candidate_id integer NOT NULL,
	filename varchar(255) NOT NULL,
	file_path varchar(500) NOT NULL,
	file_size integer,
	mime_type varchar(100),
	is_active boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE experiences (
	id serial PRIMARY KEY,
	candidate_id integer NOT NULL,
	title varchar(255) NOT NULL,
	company varchar(255) NOT NULL,
	location varchar(255),
	start_date date NOT NULL,
	end_date date,
	is_current boolean NOT NULL DEFAULT false,
	description text
);

CREATE TABLE educations (
	id serial PRIMARY KEY,
	candidate_id integer NOT NULL,
	school varchar(255) NOT NULL,
	degree varchar(255),
	field_of_study varchar(255),
	start_date date,
	end_date date,
	description text
);

CREATE TABLE skills (
	id serial PRIMARY KEY,
	candidate_id integer NOT NULL,
	name varchar(100) NOT NULL,
	level varchar(20),
	years integer
);

CREATE TABLE companies (
	id serial PRIMARY KEY,
	name varchar(255) NOT NULL,
	description text,
	industry varchar(100),
	size varchar(50),
	website varchar(500),
	location varchar(255),
	logo_url varchar(500),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE employers (
	id serial PRIMARY KEY,
	user_id integer NOT NULL,
	company_id integer,
	position varchar(255),
	phone varchar(30),
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
	id serial PRIMARY KEY,
	employer_id integer NOT NULL,
	company_id integer NOT NULL,
	title varchar(255) NOT NULL,
	description text NOT NULL,
	location varchar(255),
	location_type varchar(20) NOT NULL DEFAULT 'on_site',
	job_type varchar(20) NOT NULL DEFAULT 'full_time',
	salary_min integer,
	salary_max integer,
	salary_currency varchar(3) NOT NULL DEFAULT 'EUR',
	status varchar(20) NOT NULL DEFAULT 'draft',
	views_count integer NOT NULL DEFAULT 0,
	posted_at timestamptz,
	expires_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE job_applications (
	id serial PRIMARY KEY,
	job_id integer NOT NULL,
	candidate_id integer NOT NULL,
	cv_id integer,
	status varchar(20) NOT NULL DEFAULT 'pending',
	cover_letter text,
	notes text,
	applied_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
	id serial PRIMARY KEY,
	session_token varchar(255) NOT NULL UNIQUE,
	user_id integer NOT NULL,
	expires timestamptz NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
	id serial PRIMARY KEY,
	user_id integer NOT NULL,
	type varchar(50) NOT NULL,
	provider varchar(50) NOT NULL,
	provider_account_id varchar(255) NOT NULL,
	refresh_token text,
	access_token text,
	expires_at integer,
	token_type varchar(50),
	scope text,
	id_token text,
	session_state varchar(255),
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE password_reset_tokens (
	id serial PRIMARY KEY,
	user_id integer NOT NULL,
	token varchar(255) NOT NULL,
	expires_at timestamptz NOT NULL,
	used boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE verification_tokens (
	id serial PRIMARY KEY,
	identifier varchar(255) NOT NULL,
	token varchar(255) NOT NULL,
	expires timestamptz NOT NULL
);

CREATE TABLE notifications (
	id serial PRIMARY KEY,
	user_id integer NOT NULL,
	type varchar(50) NOT NULL,
	title varchar(255) NOT NULL,
	message text,
	is_read boolean NOT NULL DEFAULT false,
	related_job_id integer,
	related_application_id integer,
	created_at timestamptz NOT NULL DEFAULT now()
);
`;

// Added after the bulk load: one validating scan each instead of a trigger per row.
export const foreignKeysSql = `
ALTER TABLE candidates ADD CONSTRAINT candidates_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE candidate_cvs ADD CONSTRAINT candidate_cvs_candidate_id_fkey FOREIGN KEY (candidate_id) REFERENCES candidates (id) ON DELETE CASCADE;
ALTER TABLE experiences ADD CONSTRAINT experiences_candidate_id_fkey FOREIGN KEY (candidate_id) REFERENCES candidates (id) ON DELETE CASCADE;
ALTER TABLE educations ADD CONSTRAINT educations_candidate_id_fkey FOREIGN KEY (candidate_id) REFERENCES candidates (id) ON DELETE CASCADE;
ALTER TABLE skills ADD CONSTRAINT skills_candidate_id_fkey FOREIGN KEY (candidate_id) REFERENCES candidates (id) ON DELETE CASCADE;
ALTER TABLE employers ADD CONSTRAINT employers_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE employers ADD CONSTRAINT employers_company_id_fkey FOREIGN KEY (company_id) REFERENCES companies (id);
ALTER TABLE jobs ADD CONSTRAINT jobs_employer_id_fkey FOREIGN KEY (employer_id) REFERENCES employers (id) ON DELETE CASCADE;
ALTER TABLE jobs ADD CONSTRAINT jobs_company_id_fkey FOREIGN KEY (company_id) REFERENCES companies (id);
ALTER TABLE job_applications ADD CONSTRAINT job_applications_job_id_fkey FOREIGN KEY (job_id) REFERENCES jobs (id) ON DELETE CASCADE;
ALTER TABLE job_applications ADD CONSTRAINT job_applications_candidate_id_fkey FOREIGN KEY (candidate_id) REFERENCES candidates (id) ON DELETE CASCADE;
ALTER TABLE job_applications ADD CONSTRAINT job_applications_cv_id_fkey FOREIGN KEY (cv_id) REFERENCES candidate_cvs (id) ON DELETE SET NULL;
ALTER TABLE sessions ADD CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE accounts ADD CONSTRAINT accounts_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE password_reset_tokens ADD CONSTRAINT password_reset_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE notifications ADD CONSTRAINT notifications_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
`;
