-- The server-side replacement of views, materialized views and functions: one PL/pgSQL
-- program that myapp.db.ddl.replace renders as a DO block, online and in `migrate --sql`
-- alike, so the server does at apply time what the migration means, reading its own catalog.
--
-- STEPS is a JSON array, one element per object to replace (built by
-- myapp.db.replaceable.toimpl): label, kind, schema, name; old (label, kind, schema, name
-- and, for a function, its input arguments' "[name] type" texts); create (the CREATE and
-- CREATE INDEX statements of the new version); or_replace (its CREATE OR REPLACE, or
-- null); grants ([grantee, privilege] declared, ALL allowed); indexes (the index names it
-- declares). The first element replaces `old`; the others are new versions of objects
-- that may depend on it, put in place of their catalog definitions when they do.
--
-- For each element: find the object (by name; a function by its input types). If
-- CREATE OR REPLACE is accepted (same columns, or same arguments and result), keep it:
-- the object keeps its dependents, owner, privileges and comment; a view gets its options
-- back (CREATE OR REPLACE VIEW resets them). Otherwise save the object and every view,
-- materialized view and function below it (pg_depend) with their definitions, options,
-- owners, privileges (column privileges too), comments (column comments too), column
-- defaults, indexes, triggers, rules and populated state; refuse, naming it, anything else
-- that depends on them; drop them outermost first, create the new version and put the
-- others back, each with all it had.
DECLARE
    v_steps constant jsonb := /*STEPS*/;
    v_done jsonb := '[]';
    v_step jsonb;
    v_spec jsonb;
    v_old jsonb;
    v_obj jsonb;
    v_saved jsonb;
    v_i int;
    v_j int;
    v_k int;
    v_root_cls text;
    v_root_oid oid;
    v_node_cls text;
    v_node_oid oid;
    v_types oid[];
    v_t oid;
    v_arg text;
    v_in_place boolean;
    v_before_count bigint;
    v_before_oids oid[];
    v_statement text;
    v_blockers text;
    v_obj_label text;
    v_target oid;
    v_target_cls text;
    v_target_ident text;
    v_target_kw text;
    v_target_relkind text;
    v_target_owner oid;
    v_options text;
BEGIN
    FOR v_i IN 0 .. jsonb_array_length(v_steps) - 1 LOOP
        CONTINUE WHEN v_done @> to_jsonb(v_i);
        v_step := v_steps -> v_i;
        v_old := v_step -> 'old';

        -- The object to replace.
        v_root_oid := NULL;
        IF v_old ->> 'kind' = 'function' THEN
            v_root_cls := 'f';
            v_types := '{}';
            FOR v_arg IN SELECT jsonb_array_elements_text(v_old -> 'arguments') LOOP
                -- "type" or "name type": let the server say which parses as a type.
                BEGIN
                    v_t := to_regtype(v_arg);
                EXCEPTION WHEN others THEN
                    v_t := NULL;
                END;
                IF v_t IS NULL THEN
                    BEGIN
                        v_t := to_regtype(regexp_replace(v_arg, '^\s*("([^"]|"")*"|\S+)\s+', ''));
                    EXCEPTION WHEN others THEN
                        v_t := NULL;
                    END;
                END IF;
                IF v_t IS NULL THEN
                    RAISE EXCEPTION 'cannot replace %: the type of its argument % does not exist', v_old ->> 'label', v_arg;
                END IF;
                v_types := v_types || v_t;
            END LOOP;
            SELECT p.oid INTO v_root_oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE p.proname = v_old ->> 'name' AND n.nspname = coalesce(v_old ->> 'schema', current_schema())
               AND p.prokind = 'f' AND p.proargtypes = CAST(array_to_string(v_types, ' ') AS oidvector);
        ELSE
            v_root_cls := 'r';
            SELECT c.oid INTO v_root_oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relname = v_old ->> 'name' AND n.nspname = coalesce(v_old ->> 'schema', current_schema())
               AND c.relkind = CASE v_old ->> 'kind' WHEN 'view' THEN 'v' ELSE 'm' END;
        END IF;
        IF v_root_oid IS NULL THEN
            RAISE EXCEPTION 'cannot replace %: it is not in the database', v_old ->> 'label';
        END IF;

        -- What CREATE OR REPLACE does not keep: a view's options.
        SELECT jsonb_build_object('cls', v_root_cls, 'relkind', c.relkind::text,
                                  'options', to_jsonb(coalesce(c.reloptions, '{}')))
          INTO v_obj FROM pg_class c WHERE v_root_cls = 'r' AND c.oid = v_root_oid;
        v_saved := jsonb_build_array(coalesce(v_obj, jsonb_build_object('cls', v_root_cls, 'options', '[]'::jsonb)));

        -- In place, when PostgreSQL takes it as compatible.
        v_in_place := false;
        IF v_step ->> 'or_replace' IS NOT NULL AND v_old ->> 'kind' = v_step ->> 'kind' AND v_old ->> 'name' = v_step ->> 'name'
           AND (v_old ->> 'schema' IS NULL OR v_step ->> 'schema' IS NULL OR v_old ->> 'schema' = v_step ->> 'schema') THEN
            SELECT count(*) INTO v_before_count FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE p.proname = v_step ->> 'name' AND n.nspname = coalesce(v_step ->> 'schema', current_schema());
            BEGIN
                EXECUTE v_step ->> 'or_replace';
                IF v_step ->> 'kind' = 'function' AND v_before_count <> (
                    SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE p.proname = v_step ->> 'name' AND n.nspname = coalesce(v_step ->> 'schema', current_schema())) THEN
                    -- Other argument types made an overload, not a replacement: undo it.
                    RAISE EXCEPTION 'overload';
                END IF;
                v_in_place := true;
            EXCEPTION WHEN others THEN
                v_in_place := false;
            END;
        END IF;

        IF NOT v_in_place THEN
            -- Save it and everything below it, parents first.
            v_saved := '[]';
            FOR v_node_cls, v_node_oid IN SELECT c.cls, c.oid FROM (/*CLOSURE*/) c ORDER BY c.depth, c.cls, c.oid LOOP
                IF v_node_cls = 'r' THEN
                    SELECT to_jsonb(x) INTO v_obj FROM (/*RELATION*/) x;
                ELSE
                    SELECT to_jsonb(x) INTO v_obj FROM (/*FUNCTION*/) x;
                END IF;
                v_saved := v_saved || jsonb_build_array(v_obj || jsonb_build_object('cls', v_node_cls));
            END LOOP;
            SELECT string_agg(o.description, ', ') INTO v_blockers FROM (/*OTHERS*/) o;
            IF v_blockers IS NOT NULL THEN
                RAISE EXCEPTION 'cannot replace %: % depends on it, which a replacement cannot put back; drop that first and create it again after',
                    v_old ->> 'label', v_blockers;
            END IF;
            FOR v_k IN REVERSE jsonb_array_length(v_saved) - 1 .. 0 LOOP
                v_obj := v_saved -> v_k;
                EXECUTE format('DROP %s %s', CASE v_obj ->> 'relkind' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                                 ELSE 'FUNCTION' END, v_obj ->> 'ident');
            END LOOP;
        END IF;

        -- Create (unless in place) and put back what each had.
        FOR v_k IN 0 .. jsonb_array_length(v_saved) - 1 LOOP
            v_obj := v_saved -> v_k;
            v_obj_label := format('%s %s.%s%s', CASE v_obj ->> 'relkind' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                                  ELSE 'function' END,
                                v_obj ->> 'schema', v_obj ->> 'name',
                                CASE WHEN v_obj ->> 'cls' = 'f' THEN '(' || (v_obj ->> 'identity') || ')' ELSE '' END);
            v_spec := NULL;
            IF v_k = 0 THEN
                v_spec := v_step;
            ELSE
                FOR v_j IN v_i + 1 .. jsonb_array_length(v_steps) - 1 LOOP
                    IF NOT v_done @> to_jsonb(v_j)
                       AND v_steps -> v_j ->> 'kind' = (CASE v_obj ->> 'relkind' WHEN 'v' THEN 'view'
                                                         WHEN 'm' THEN 'materialized view' ELSE 'function' END)
                       AND v_steps -> v_j ->> 'name' = v_obj ->> 'name'
                       AND coalesce(v_steps -> v_j ->> 'schema', v_obj ->> 'schema') = v_obj ->> 'schema' THEN
                        v_spec := v_steps -> v_j;
                        v_done := v_done || to_jsonb(v_j);
                        EXIT;
                    END IF;
                END LOOP;
            END IF;
            BEGIN
                IF v_in_place THEN
                    v_target := v_root_oid;
                    v_target_cls := v_root_cls;
                ELSE
                    v_target_cls := CASE WHEN coalesce(v_spec ->> 'kind', '') = 'function' OR (v_spec IS NULL AND v_obj ->> 'cls' = 'f')
                                       THEN 'f' ELSE 'r' END;
                    SELECT coalesce(array_agg(p.oid), '{}') INTO v_before_oids FROM pg_proc p
                     WHERE p.proname = coalesce(v_spec ->> 'name', v_obj ->> 'name');
                    IF v_spec IS NOT NULL THEN
                        FOR v_statement IN SELECT jsonb_array_elements_text(v_spec -> 'create') LOOP
                            EXECUTE v_statement;
                        END LOOP;
                    ELSIF v_obj ->> 'cls' = 'f' THEN
                        EXECUTE v_obj ->> 'definition';
                    ELSE
                        SELECT CASE WHEN count(*) > 0 THEN ' WITH (' || string_agg(
                                   split_part(o, '=', 1) || '=' || quote_literal(substr(o, strpos(o, '=') + 1)), ', ') || ')'
                                   ELSE '' END
                          INTO v_options FROM jsonb_array_elements_text(v_obj -> 'options') o;
                        EXECUTE format('CREATE %s %s%s AS %s%s',
                                       CASE v_obj ->> 'relkind' WHEN 'v' THEN 'VIEW' ELSE 'MATERIALIZED VIEW' END,
                                       v_obj ->> 'ident', v_options, rtrim(v_obj ->> 'definition', E'; \n'),
                                       CASE WHEN v_obj ->> 'relkind' = 'v' THEN ''
                                            WHEN (v_obj ->> 'populated')::boolean THEN ' WITH DATA' ELSE ' WITH NO DATA' END);
                    END IF;
                    IF v_target_cls = 'f' THEN
                        SELECT p.oid INTO v_target FROM pg_proc p WHERE p.oid <> ALL (v_before_oids)
                         AND p.proname = coalesce(v_spec ->> 'name', v_obj ->> 'name') ORDER BY p.oid DESC LIMIT 1;
                    ELSE
                        SELECT c.oid INTO v_target FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE c.relname = coalesce(v_spec ->> 'name', v_obj ->> 'name') AND c.relkind IN ('v', 'm')
                           AND n.nspname = CASE WHEN v_spec IS NULL THEN v_obj ->> 'schema'
                                                ELSE coalesce(v_spec ->> 'schema', current_schema()) END;
                    END IF;
                END IF;

                IF v_target_cls = 'f' THEN
                    SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
                           p.proowner, 'FUNCTION', 'f'
                      INTO v_target_ident, v_target_owner, v_target_kw, v_target_relkind
                      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = v_target;
                ELSE
                    SELECT format('%I.%I', n.nspname, c.relname), c.relowner,
                           CASE c.relkind WHEN 'v' THEN 'VIEW' ELSE 'MATERIALIZED VIEW' END, c.relkind::text
                      INTO v_target_ident, v_target_owner, v_target_kw, v_target_relkind
                      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = v_target;
                END IF;

                -- Its owner, then its privileges as a set: what it has now against what it had,
                -- with the declared grants (ALL meaning every privilege of the kind).
                IF NOT v_in_place AND v_target_owner <> (SELECT r.oid FROM pg_roles r WHERE r.rolname = v_obj ->> 'owner') THEN
                    EXECUTE format('ALTER %s %s OWNER TO %I', v_target_kw, v_target_ident, v_obj ->> 'owner');
                    v_target_owner := (SELECT r.oid FROM pg_roles r WHERE r.rolname = v_obj ->> 'owner');
                END IF;
                IF NOT v_in_place OR jsonb_array_length(coalesce(v_spec -> 'grants', '[]')) > 0 THEN
                    -- (In place, the object keeps its privileges: only declared grants may be missing.)
                    FOR v_statement IN
                        WITH have AS (
                            SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee,
                                   a.privilege_type AS privilege, a.is_grantable AS grantable
                            FROM aclexplode(coalesce(
                                CASE WHEN v_target_cls = 'f' THEN (SELECT p.proacl FROM pg_proc p WHERE p.oid = v_target)
                                     ELSE (SELECT c.relacl FROM pg_class c WHERE c.oid = v_target) END,
                                acldefault(CAST(CASE WHEN v_target_cls = 'f' THEN 'f' ELSE 'r' END AS "char"), v_target_owner))) a),
                        wanted AS (
                            SELECT w.grantee, w.privilege, bool_or(w.grantable) AS grantable FROM (
                                SELECT e ->> 0 AS grantee, e ->> 1 AS privilege, (e ->> 2)::boolean AS grantable
                                FROM jsonb_array_elements(v_obj -> 'privileges') e
                                UNION ALL
                                SELECT h.grantee, h.privilege, h.grantable FROM have h WHERE v_in_place  -- kept as it is
                                UNION ALL
                                SELECT CASE WHEN upper(g ->> 0) = 'PUBLIC' THEN 'PUBLIC' ELSE g ->> 0 END, p.privilege, false
                                FROM jsonb_array_elements(coalesce(v_spec -> 'grants', '[]')) g
                                CROSS JOIN LATERAL (
                                    SELECT g ->> 1 AS privilege WHERE g ->> 1 NOT IN ('ALL', 'ALL PRIVILEGES')
                                    UNION ALL
                                    SELECT a.privilege_type
                                    FROM aclexplode(acldefault(CAST(CASE WHEN v_target_cls = 'f' THEN 'f' ELSE 'r' END AS "char"), v_target_owner)) a
                                    WHERE g ->> 1 IN ('ALL', 'ALL PRIVILEGES') AND a.grantee = v_target_owner) p
                            ) w GROUP BY w.grantee, w.privilege)
                        SELECT format('REVOKE %s ON %s %s FROM %s', string_agg(h.privilege, ', ' ORDER BY h.privilege),
                                      CASE WHEN v_target_cls = 'f' THEN 'FUNCTION' ELSE 'TABLE' END, v_target_ident,
                                      CASE WHEN h.grantee = 'PUBLIC' THEN 'PUBLIC' ELSE quote_ident(h.grantee) END)
                        FROM have h
                        WHERE NOT EXISTS (SELECT 1 FROM wanted w WHERE w.grantee = h.grantee AND w.privilege = h.privilege)
                        GROUP BY h.grantee
                        UNION ALL
                        SELECT format('GRANT %s ON %s %s TO %s%s', string_agg(w.privilege, ', ' ORDER BY w.privilege),
                                      CASE WHEN v_target_cls = 'f' THEN 'FUNCTION' ELSE 'TABLE' END, v_target_ident,
                                      CASE WHEN w.grantee = 'PUBLIC' THEN 'PUBLIC' ELSE quote_ident(w.grantee) END,
                                      CASE WHEN w.grantable THEN ' WITH GRANT OPTION' ELSE '' END)
                        FROM wanted w
                        WHERE NOT EXISTS (SELECT 1 FROM have h WHERE h.grantee = w.grantee AND h.privilege = w.privilege
                                                                 AND (h.grantable OR NOT w.grantable))
                        GROUP BY w.grantee, w.grantable
                    LOOP
                        EXECUTE v_statement;
                    END LOOP;
                END IF;

                IF v_target_cls = 'r' THEN
                    -- Options a new version does not set itself (CREATE OR REPLACE VIEW resets them).
                    IF (v_in_place OR v_spec IS NOT NULL) AND v_spec -> 'options' IS NULL
                       AND jsonb_array_length(v_obj -> 'options') > 0 AND v_target_relkind = v_obj ->> 'relkind' THEN
                        SELECT string_agg(split_part(o, '=', 1) || '=' || quote_literal(substr(o, strpos(o, '=') + 1)), ', ')
                          INTO v_options FROM jsonb_array_elements_text(v_obj -> 'options') o;
                        EXECUTE format('ALTER %s %s SET (%s)', v_target_kw, v_target_ident, v_options);
                    END IF;
                    IF NOT v_in_place THEN
                        -- Column privileges, comments and defaults, on the columns it still has.
                        FOR v_statement IN
                            SELECT format('GRANT %s ON TABLE %s TO %s%s',
                                          string_agg(format('%s (%I)', e ->> 2, e ->> 0), ', ' ORDER BY e ->> 0, e ->> 2), v_target_ident,
                                          CASE WHEN e ->> 1 = 'PUBLIC' THEN 'PUBLIC' ELSE quote_ident(e ->> 1) END,
                                          CASE WHEN (e ->> 3)::boolean THEN ' WITH GRANT OPTION' ELSE '' END)
                            FROM jsonb_array_elements(coalesce(v_obj -> 'column_privileges', '[]')) e
                            WHERE EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = v_target
                                                             AND a.attname = e ->> 0 AND NOT a.attisdropped)
                            GROUP BY e ->> 1, (e ->> 3)::boolean
                            UNION ALL
                            SELECT format('COMMENT ON COLUMN %s.%I IS %L', v_target_ident, e ->> 0, e ->> 1)
                            FROM jsonb_array_elements(coalesce(v_obj -> 'column_comments', '[]')) e
                            WHERE EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = v_target
                                                             AND a.attname = e ->> 0 AND NOT a.attisdropped)
                            UNION ALL
                            SELECT format('ALTER %s %s ALTER COLUMN %I SET DEFAULT %s', v_target_kw, v_target_ident, e ->> 0, e ->> 1)
                            FROM jsonb_array_elements(coalesce(v_obj -> 'column_defaults', '[]')) e
                            WHERE EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = v_target
                                                             AND a.attname = e ->> 0 AND NOT a.attisdropped)
                        LOOP
                            EXECUTE v_statement;
                        END LOOP;
                    END IF;
                END IF;
                IF NOT v_in_place AND v_obj ->> 'comment' IS NOT NULL THEN
                    EXECUTE format('COMMENT ON %s %s IS %L', v_target_kw, v_target_ident, v_obj ->> 'comment');
                END IF;
                -- Indexes (but those the new version declares), triggers and rules, on the same relation.
                IF NOT v_in_place AND v_target_cls = 'r' AND v_target_ident = v_obj ->> 'ident' THEN
                    FOR v_statement IN
                        SELECT e ->> 4 FROM jsonb_array_elements(coalesce(v_obj -> 'indexes', '[]')) e
                        WHERE NOT coalesce(v_spec -> 'indexes', '[]') ? (e ->> 0)
                        UNION ALL
                        SELECT e FROM jsonb_array_elements_text(coalesce(v_obj -> 'triggers', '[]')) e
                        UNION ALL
                        SELECT e FROM jsonb_array_elements_text(coalesce(v_obj -> 'rules', '[]')) e
                    LOOP
                        EXECUTE v_statement;
                    END LOOP;
                END IF;
            EXCEPTION WHEN others THEN
                IF v_k = 0 THEN
                    RAISE;
                END IF;
                RAISE EXCEPTION 'cannot recreate %, which depends on %, after replacing it: %; pass its new version in dependents= of this replacement',
                    v_obj_label, v_step ->> 'label', SQLERRM USING ERRCODE = SQLSTATE;
            END;
        END LOOP;
    END LOOP;
END
