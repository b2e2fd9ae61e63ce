-- Demo data (`supabase db reset` / `receptor-planner demo`): one organisation, one member,
-- a small Victorian PGY2 allocation round (4 x 13-week terms, 15 units, demand for 14 lines)
-- and one locked line. Feasible under ["VIC_PGY2"]: every unit has its own subspecialty
-- except GM-A/GM-B (so no line repeats General Medicine), the only leave is 4 weeks inside
-- RELIEF (a line works >= 48 weeks), one service term at most (13/52 = 25%), and A/B/C are
-- reachable on every line. Fixed ids are listed in docs/database.md.

-- The demo user, inserted the way GoTrue writes a confirmed email sign-up, so that
-- `workforce@demo-health.test` / `receptor-demo` can sign in on `supabase start`: a bcrypt
-- hash (GoTrue's cost 10), email_confirmed_at set, the token columns '' rather than NULL
-- (GoTrue scans them into strings: NULL fails login with "Database error querying schema"),
-- and the `email` identity GoTrue creates with every email user.
insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        confirmation_token, recovery_token, email_change_token_new, email_change,
                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
values ('00000000-0000-0000-0000-000000000000', 'd3000000-0000-4000-8000-000000000001',
        'authenticated', 'authenticated', 'workforce@demo-health.test',
        extensions.crypt('receptor-demo', extensions.gen_salt('bf', 10)),
        now(), '', '', '', '',
        '{"provider": "email", "providers": ["email"]}', '{"name": "Demo Workforce Manager"}',
        now(), now());

insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at,
                             created_at, updated_at)
values ('d3000000-0000-4000-8000-000000000001', 'd3000000-0000-4000-8000-000000000001',
        '{"sub": "d3000000-0000-4000-8000-000000000001", "email": "workforce@demo-health.test",
          "email_verified": true, "phone_verified": false}',
        'email', now(), now(), now());

insert into public.organizations (id, name)
values ('d3000000-0000-4000-8000-000000000010', 'Demo Health');

insert into public.organization_members (organization_id, user_id, role)
values ('d3000000-0000-4000-8000-000000000010', 'd3000000-0000-4000-8000-000000000001', 'admin');

insert into public.allocation_runs (id, organization_id, name)
values ('d3000000-0000-4000-8000-000000000020', 'd3000000-0000-4000-8000-000000000010',
        'Demo Health 2027 PGY2');

insert into public.plan_terms (organization_id, allocation_run_id, ordinal, name, weeks)
select 'd3000000-0000-4000-8000-000000000010', 'd3000000-0000-4000-8000-000000000020', t, 'Term ' || t, 13
from generate_series(1, 4) t;

insert into public.units (id, organization_id, allocation_run_id, code, name, specialty, subspecialty,
                          experiences, kind, nights, span_terms, leave_weeks)
select u.id::uuid, 'd3000000-0000-4000-8000-000000000010', 'd3000000-0000-4000-8000-000000000020',
       u.code, u.name, u.specialty, u.subspecialty, u.experiences::text[], u.kind, u.nights, u.span_terms, u.leave_weeks
from (values
    ('d3000000-0000-4000-8000-000000000101', 'ED', 'Emergency Department', 'Emergency Medicine', 'Emergency Medicine', '{A,C}', 'clinical', false, 1, 0),
    ('d3000000-0000-4000-8000-000000000102', 'GM-A', 'General Medicine A', 'General Medicine', 'General Medicine', '{A,B}', 'clinical', false, 1, 0),
    ('d3000000-0000-4000-8000-000000000103', 'GM-B', 'General Medicine B', 'General Medicine', 'General Medicine', '{A,B}', 'clinical', false, 1, 0),
    ('d3000000-0000-4000-8000-000000000104', 'CARD', 'Cardiology', 'Medicine', 'Cardiology', '{B,C}', 'clinical', false, 1, 0),
    ('d3000000-0000-4000-8000-000000000105', 'GERI', 'Geriatric Medicine', 'Medicine', 'Geriatric Medicine', '{B}', 'clinical', false, 1, 0),
    ('d3000000-0000-4000-8000-000000000106', 'GSURG', 'General Surgery', 'Surgery', 'General Surgery', '{C,D}', 'clinical', false, 1, 0),
    ('d3000000-0000-4000-8000-000000000107', 'ORTHO', 'Orthopaedic Surgery', 'Surgery', 'Orthopaedic Surgery', '{D}', 'clinical', false, 1, 0),
    ('d3000000-0000-4000-8000-000000000108', 'ICU', 'Intensive Care Unit', 'Critical Care', 'Intensive Care', '{C}', 'clinical', false, 1, 0),
    ('d3000000-0000-4000-8000-000000000109', 'ANAES', 'Anaesthesia', 'Anaesthesia', 'Anaesthesia', '{C,D}', 'clinical', false, 1, 0),
    ('d3000000-0000-4000-8000-000000000110', 'PSYCH', 'Adult Inpatient Psychiatry', 'Psychiatry', 'Adult Psychiatry', '{A,B}', 'clinical', false, 1, 0),
    ('d3000000-0000-4000-8000-000000000111', 'PAEDS', 'Paediatrics', 'Paediatrics', 'General Paediatrics', '{A,B}', 'clinical', false, 1, 0),
    ('d3000000-0000-4000-8000-000000000112', 'NIGHT-MED', 'Medical Night Cover', 'General Medicine', 'After Hours Medicine', '{A,C}', 'clinical', true, 1, 0),
    ('d3000000-0000-4000-8000-000000000113', 'RELIEF', 'Relief (with 4 weeks annual leave)', 'Relief', 'Relief', '{}', 'service', false, 1, 4),
    ('d3000000-0000-4000-8000-000000000114', 'RURAL-GEN', 'Rural Generalist (Bendigo, six months)', 'Rural Generalism', 'Rural Generalist', '{A,B,C}', 'clinical', false, 2, 0),
    ('d3000000-0000-4000-8000-000000000115', 'MED-ED', 'Medical Education', 'Medical Administration', 'Medical Education', '{}', 'non_clinical', false, 1, 0)
) as u (id, code, name, specialty, subspecialty, experiences, kind, nights, span_terms, leave_weeks);

-- Minimum demand adds up to 14 in every term; ANAES and MED-ED take an extra line if offered.
insert into public.unit_demands (organization_id, allocation_run_id, unit_id, term_ordinal, min_lines, max_lines)
select u.organization_id, u.allocation_run_id, u.id, t.ordinal, d.min_lines, d.max_lines
from (values
    ('ED', 2, 3), ('GM-A', 1, 1), ('GM-B', 1, 1), ('CARD', 1, 1), ('GERI', 1, 1), ('GSURG', 1, 1),
    ('ORTHO', 1, 1), ('ICU', 1, 1), ('ANAES', 0, 1), ('PSYCH', 1, 1), ('PAEDS', 1, 1),
    ('NIGHT-MED', 1, 1), ('RELIEF', 1, 1), ('RURAL-GEN', 1, 1), ('MED-ED', 0, 1)
) as d (code, min_lines, max_lines)
join public.units u on u.code = d.code and u.allocation_run_id = 'd3000000-0000-4000-8000-000000000020'
join public.plan_terms t on t.allocation_run_id = u.allocation_run_id
where d.code <> 'MED-ED' or t.ordinal in (2, 3); -- Medical Education runs mid-year only

-- L-01 is agreed with the ED and surgical directors: locked, kept exactly as it is.
insert into public.job_lines (id, organization_id, allocation_run_id, label, locked, source)
values ('d3000000-0000-4000-8000-000000000301', 'd3000000-0000-4000-8000-000000000010',
        'd3000000-0000-4000-8000-000000000020', 'L-01', true, 'manual');

insert into public.rotations (organization_id, allocation_run_id, job_line_id, term_ordinal, unit_id, locked)
select 'd3000000-0000-4000-8000-000000000010', 'd3000000-0000-4000-8000-000000000020',
       'd3000000-0000-4000-8000-000000000301', r.term, u.id, true
from (values (1, 'ED'), (2, 'CARD'), (3, 'PSYCH'), (4, 'GSURG')) as r (term, code)
join public.units u on u.code = r.code and u.allocation_run_id = 'd3000000-0000-4000-8000-000000000020';
