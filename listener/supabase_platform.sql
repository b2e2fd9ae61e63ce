-- A Supabase-shaped database for the tests, the CLI checks and `receptor-planner demo`,
-- written from the platform's own setup (supabase/postgres: migrations/db/init-scripts,
-- migrations/db/migrations, ansible/files/postgresql_config/supautils.conf.j2 and the
-- pg_cron after-create script; supabase/cli's initial schema dump for auth.users and
-- auth.identities). Run once by the bootstrap superuser `supabase_admin` (initdb -U
-- supabase_admin), in the database named by cron.database_name, before any migration.
-- On Supabase itself all of this already exists: never apply this file there.

-- Roles ---------------------------------------------------------------------------------
-- `postgres` is what the developer (and `supabase db push/reset`) connects as: NOT a superuser.
create role postgres login nosuperuser createdb createrole replication bypassrls;
create role anon nologin inherit;
create role authenticated nologin inherit;
create role service_role nologin inherit bypassrls;
-- PostgREST logs in as authenticator and switches to the JWT's role.
create role authenticator login noinherit;
grant anon, authenticated, service_role to authenticator;
-- GoTrue's role: owns the auth tables and functions.
create role supabase_auth_admin login noinherit createrole noreplication;
grant anon, authenticated, service_role to postgres;
grant pg_read_all_data, pg_signal_backend, pg_monitor to postgres;
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';

grant all on database postgres to postgres;
alter role postgres set search_path to "$user", public, extensions;

-- Realtime: an empty publication the project adds its tables to, owned by postgres.
create publication supabase_realtime;
alter publication supabase_realtime owner to postgres;

-- Extensions live in their own schema -----------------------------------------------------
create schema extensions;
create extension "uuid-ossp" with schema extensions;
create extension pgcrypto with schema extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
grant all on schema extensions to postgres;

-- public: owned by postgres, and everything postgres creates there is granted to the API
-- roles by default (RLS and explicit revokes are what must protect the project's tables).
alter schema public owner to postgres;
grant usage on schema public to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public
    grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public
    grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public
    grant all on sequences to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
    grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
    grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
    grant all on sequences to postgres, anon, authenticated, service_role;

-- auth: the schema belongs to supabase_admin (so `supabase db reset` keeps it), the tables and
-- functions to supabase_auth_admin, as GoTrue leaves them. Columns as GoTrue's migrations make
-- them: what a seed must fill for a user to be able to sign in.
create schema auth authorization supabase_admin;
grant all on schema auth to supabase_auth_admin, postgres;
grant usage on schema auth to anon, authenticated, service_role;

create table auth.users (
    instance_id uuid,
    id uuid not null primary key,
    aud varchar(255),
    role varchar(255),
    email varchar(255),
    encrypted_password varchar(255),
    email_confirmed_at timestamptz,
    invited_at timestamptz,
    confirmation_token varchar(255),
    confirmation_sent_at timestamptz,
    recovery_token varchar(255),
    recovery_sent_at timestamptz,
    email_change_token_new varchar(255),
    email_change varchar(255),
    email_change_sent_at timestamptz,
    last_sign_in_at timestamptz,
    raw_app_meta_data jsonb,
    raw_user_meta_data jsonb,
    is_super_admin boolean,
    created_at timestamptz,
    updated_at timestamptz,
    phone text unique default null,
    phone_confirmed_at timestamptz,
    phone_change text default '',
    phone_change_token varchar(255) default '',
    phone_change_sent_at timestamptz,
    confirmed_at timestamptz generated always as (least(email_confirmed_at, phone_confirmed_at)) stored,
    email_change_token_current varchar(255) default '',
    email_change_confirm_status smallint default 0
        check (email_change_confirm_status >= 0 and email_change_confirm_status <= 2),
    banned_until timestamptz,
    reauthentication_token varchar(255) default '',
    reauthentication_sent_at timestamptz,
    is_sso_user boolean not null default false,
    deleted_at timestamptz,
    is_anonymous boolean not null default false
);
create unique index users_email_partial_key on auth.users (email) where is_sso_user = false;
create index users_instance_id_idx on auth.users (instance_id);

create table auth.identities (
    provider_id text not null,
    user_id uuid not null references auth.users (id) on delete cascade,
    identity_data jsonb not null,
    provider text not null,
    last_sign_in_at timestamptz,
    created_at timestamptz,
    updated_at timestamptz,
    email text generated always as (lower(identity_data ->> 'email')) stored,
    id uuid not null default gen_random_uuid() primary key,
    constraint identities_provider_id_provider_unique unique (provider_id, provider)
);
create index identities_user_id_idx on auth.identities (user_id);
create index identities_email_idx on auth.identities (email text_pattern_ops);

-- PostgREST puts the verified JWT in request.jwt.claims (older versions: request.jwt.claim.*).
create function auth.jwt() returns jsonb
language sql stable as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;

create function auth.uid() returns uuid
language sql stable as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$$;

create function auth.role() returns text
language sql stable as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
    )::text
$$;

create function auth.email() returns text
language sql stable as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.email', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
    )::text
$$;

alter table auth.users owner to supabase_auth_admin;
alter table auth.identities owner to supabase_auth_admin;
alter function auth.jwt() owner to supabase_auth_admin;
alter function auth.uid() owner to supabase_auth_admin;
alter function auth.role() owner to supabase_auth_admin;
alter function auth.email() owner to supabase_auth_admin;
grant all on all tables in schema auth to postgres;
grant all on all routines in schema auth to postgres;

-- Privileged extensions: our stand-in for supautils ----------------------------------------
-- On Supabase, supautils lets `postgres` create (and drop) extensions such as pg_cron that
-- need a superuser: it runs the CREATE as supabase_admin, then the extension's after-create
-- script. supautils is not packaged here, so an event trigger does the same before the
-- command runs: it creates the named extension as supabase_admin, runs Supabase's pg_cron
-- grants, and hands the extension to postgres so the CLI's `db reset` can drop it. The
-- caller's `create extension if not exists` then finds it installed. If the extension cannot
-- be created (pg_cron not preloaded, not installed), the caller's command fails with why.
-- It reads the extension's name from the top-level statement (current_query()): a CREATE
-- EXTENSION built at run time inside a function is not seen, and fails as it would without
-- supautils.
create function extensions.create_privileged_extension() returns event_trigger
language plpgsql security definer set search_path = pg_catalog as $$
declare
    wanted text;
begin
    if current_setting('supabase_platform.creating', true) = 'on' then
        return;
    end if;
    for wanted in
        select distinct lower(m[1])
        from regexp_matches(current_query(),
                            'create\s+extension\s+(?:if\s+not\s+exists\s+)?"?([a-z0-9_]+)"?',
                            'gi') as m
    loop
        continue when wanted not in ('pg_cron', 'pgtap', 'plpgsql_check')
            or exists (select from pg_extension where extname = wanted);
        perform set_config('supabase_platform.creating', 'on', true);
        begin
            if wanted = 'pgtap' then
                create extension pgtap with schema extensions;
            else
                execute format('create extension %I', wanted);
            end if;
        exception when others then
            perform set_config('supabase_platform.creating', 'off', true);
            raise;
        end;
        perform set_config('supabase_platform.creating', 'off', true);
        if wanted = 'pg_cron' then
            -- Supabase's pg_cron after-create script (minus its revoke on cron.job: pg_cron
            -- writes cron.job as the extension's owner, which is postgres here).
            grant usage on schema cron to postgres with grant option;
            grant all on all functions in schema cron to postgres with grant option;
            grant all privileges on all tables in schema cron to postgres with grant option;
            grant all privileges on all sequences in schema cron to postgres with grant option;
        end if;
        update pg_extension set extowner = 'postgres'::regrole where extname = wanted;
    end loop;
end
$$;

create event trigger create_privileged_extension on ddl_command_start
    when tag in ('CREATE EXTENSION')
    execute function extensions.create_privileged_extension();
