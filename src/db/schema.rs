// @generated automatically by Diesel CLI.

diesel::table! {
    api_tokens (id) {
        id -> Int4,
        user_id -> Int4,
        #[max_length = 100]
        name -> Varchar,
        #[max_length = 64]
        token_hash -> Varchar,
        created -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        created_by_token_id -> Nullable<Int4>,
    }
}

diesel::table! {
    development_environments (id) {
        id -> Int4,
        #[max_length = 200]
        name -> Varchar,
    }
}

diesel::table! {
    endpoint_status (finding_id, endpoint_id) {
        finding_id -> Int4,
        endpoint_id -> Int4,
        mitigated -> Bool,
        mitigated_time -> Nullable<Timestamptz>,
        mitigated_by_id -> Nullable<Int4>,
        false_positive -> Bool,
        out_of_scope -> Bool,
        risk_accepted -> Bool,
        date -> Date,
        last_modified -> Timestamptz,
    }
}

diesel::table! {
    endpoints (id) {
        id -> Int4,
        product_id -> Int4,
        #[max_length = 20]
        protocol -> Nullable<Varchar>,
        #[max_length = 500]
        userinfo -> Nullable<Varchar>,
        #[max_length = 500]
        host -> Nullable<Varchar>,
        port -> Nullable<Int4>,
        #[max_length = 500]
        path -> Nullable<Varchar>,
        #[max_length = 1000]
        query -> Nullable<Varchar>,
        #[max_length = 500]
        fragment -> Nullable<Varchar>,
        url -> Text,
        created -> Timestamptz,
    }
}

diesel::table! {
    engagements (id) {
        id -> Int4,
        product_id -> Int4,
        #[max_length = 300]
        name -> Varchar,
        #[max_length = 2000]
        description -> Nullable<Varchar>,
        #[max_length = 100]
        version -> Nullable<Varchar>,
        first_contacted -> Nullable<Date>,
        target_start -> Date,
        target_end -> Date,
        lead_id -> Nullable<Int4>,
        #[max_length = 2000]
        reason -> Nullable<Varchar>,
        #[max_length = 200]
        tracker -> Nullable<Varchar>,
        #[max_length = 200]
        test_strategy -> Nullable<Varchar>,
        #[max_length = 600]
        source_code_management_uri -> Nullable<Varchar>,
        #[max_length = 16]
        engagement_type -> Varchar,
        #[max_length = 24]
        status -> Varchar,
        active -> Bool,
        done_testing -> Bool,
        #[max_length = 150]
        build_id -> Nullable<Varchar>,
        #[max_length = 150]
        commit_hash -> Nullable<Varchar>,
        #[max_length = 150]
        branch_tag -> Nullable<Varchar>,
        environment_id -> Nullable<Int4>,
        deduplication_on_engagement -> Bool,
        tags -> Array<Nullable<Text>>,
        created -> Timestamptz,
        updated -> Timestamptz,
        overdue_notified_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    event_outbox (id) {
        id -> Int8,
        seq -> Nullable<Int8>,
        #[max_length = 40]
        kind -> Varchar,
        product_id -> Nullable<Int4>,
        engagement_id -> Nullable<Int4>,
        test_id -> Nullable<Int4>,
        finding_id -> Nullable<Int4>,
        payload -> Jsonb,
        actor_id -> Nullable<Int4>,
        created -> Timestamptz,
        published -> Bool,
    }
}

diesel::table! {
    event_relay (id) {
        id -> Int4,
        last_seq -> Int8,
    }
}

diesel::table! {
    files (id) {
        id -> Int4,
        engagement_id -> Nullable<Int4>,
        test_id -> Nullable<Int4>,
        finding_id -> Nullable<Int4>,
        #[max_length = 100]
        title -> Varchar,
        #[max_length = 255]
        filename -> Varchar,
        #[max_length = 255]
        content_type -> Varchar,
        size -> Int4,
        #[max_length = 64]
        sha256 -> Varchar,
        content -> Bytea,
        created -> Timestamptz,
    }
}

diesel::table! {
    finding_counts (test_id, severity, engagement_id, product_id) {
        product_id -> Int4,
        engagement_id -> Int4,
        test_id -> Int4,
        #[max_length = 8]
        severity -> Varchar,
        active -> Int8,
    }
}

diesel::table! {
    findings (id) {
        id -> Int4,
        test_id -> Int4,
        engagement_id -> Int4,
        product_id -> Int4,
        #[max_length = 511]
        title -> Varchar,
        description -> Text,
        #[max_length = 8]
        severity -> Varchar,
        #[max_length = 4]
        numerical_severity -> Varchar,
        date -> Date,
        mitigation -> Nullable<Text>,
        impact -> Nullable<Text>,
        steps_to_reproduce -> Nullable<Text>,
        severity_justification -> Nullable<Text>,
        refs -> Nullable<Text>,
        url -> Nullable<Text>,
        cwe -> Nullable<Int4>,
        vulnerability_ids -> Array<Nullable<Text>>,
        #[max_length = 117]
        cvssv3 -> Nullable<Varchar>,
        cvssv3_score -> Nullable<Float8>,
        #[max_length = 4000]
        file_path -> Nullable<Varchar>,
        line -> Nullable<Int4>,
        #[max_length = 500]
        component_name -> Nullable<Varchar>,
        #[max_length = 100]
        component_version -> Nullable<Varchar>,
        static_finding -> Bool,
        dynamic_finding -> Bool,
        #[max_length = 500]
        unique_id_from_tool -> Nullable<Varchar>,
        #[max_length = 500]
        vuln_id_from_tool -> Nullable<Varchar>,
        #[max_length = 64]
        hash_code -> Nullable<Varchar>,
        #[max_length = 200]
        service -> Nullable<Varchar>,
        nb_occurences -> Nullable<Int4>,
        active -> Bool,
        verified -> Bool,
        false_p -> Bool,
        out_of_scope -> Bool,
        risk_accepted -> Bool,
        under_review -> Bool,
        is_mitigated -> Bool,
        mitigated -> Nullable<Timestamptz>,
        mitigated_by_id -> Nullable<Int4>,
        reporter_id -> Nullable<Int4>,
        duplicate -> Bool,
        duplicate_finding_id -> Nullable<Int4>,
        sla_start_date -> Nullable<Date>,
        sla_expiration_date -> Nullable<Date>,
        last_status_update -> Timestamptz,
        tags -> Array<Nullable<Text>>,
        created -> Timestamptz,
        updated -> Timestamptz,
        param -> Nullable<Text>,
        payload -> Nullable<Text>,
        cwes -> Array<Nullable<Int4>>,
        #[max_length = 255]
        cvssv4 -> Nullable<Varchar>,
        cvssv4_score -> Nullable<Float8>,
        scanner_confidence -> Nullable<Int4>,
        fix_available -> Nullable<Bool>,
        #[max_length = 100]
        fix_version -> Nullable<Varchar>,
        epss_score -> Nullable<Float8>,
        epss_percentile -> Nullable<Float8>,
        known_exploited -> Bool,
        publish_date -> Nullable<Date>,
    }
}

diesel::table! {
    group_members (id) {
        id -> Int4,
        group_id -> Int4,
        user_id -> Int4,
        #[max_length = 16]
        role -> Varchar,
        created -> Timestamptz,
    }
}

diesel::table! {
    groups (id) {
        id -> Int4,
        #[max_length = 255]
        name -> Varchar,
        #[max_length = 4000]
        description -> Nullable<Varchar>,
        #[max_length = 16]
        global_role -> Nullable<Varchar>,
        created -> Timestamptz,
    }
}

diesel::table! {
    memberships (id) {
        id -> Int4,
        product_type_id -> Nullable<Int4>,
        product_id -> Nullable<Int4>,
        user_id -> Nullable<Int4>,
        group_id -> Nullable<Int4>,
        #[max_length = 16]
        role -> Varchar,
        created -> Timestamptz,
    }
}

diesel::table! {
    notification_settings (id) {
        id -> Int4,
        user_id -> Int4,
        product_id -> Nullable<Int4>,
        kinds -> Array<Nullable<Text>>,
        updated -> Timestamptz,
    }
}

diesel::table! {
    notes (id) {
        id -> Int4,
        engagement_id -> Nullable<Int4>,
        test_id -> Nullable<Int4>,
        finding_id -> Nullable<Int4>,
        entry -> Text,
        author_id -> Nullable<Int4>,
        private -> Bool,
        edited -> Bool,
        created -> Timestamptz,
        updated -> Timestamptz,
    }
}

diesel::table! {
    product_finding_counts (id) {
        id -> Int8,
        product_id -> Int4,
        #[max_length = 8]
        severity -> Varchar,
        active -> Int8,
    }
}

diesel::table! {
    product_types (id) {
        id -> Int4,
        #[max_length = 255]
        name -> Varchar,
        #[max_length = 4000]
        description -> Nullable<Varchar>,
        critical_product -> Bool,
        key_product -> Bool,
        created -> Timestamptz,
        updated -> Timestamptz,
    }
}

diesel::table! {
    products (id) {
        id -> Int4,
        #[max_length = 255]
        name -> Varchar,
        #[max_length = 4000]
        description -> Varchar,
        product_type_id -> Int4,
        sla_configuration_id -> Int4,
        product_manager_id -> Nullable<Int4>,
        technical_contact_id -> Nullable<Int4>,
        team_manager_id -> Nullable<Int4>,
        #[max_length = 16]
        business_criticality -> Nullable<Varchar>,
        #[max_length = 16]
        platform -> Nullable<Varchar>,
        #[max_length = 16]
        lifecycle -> Nullable<Varchar>,
        #[max_length = 24]
        origin -> Nullable<Varchar>,
        user_records -> Nullable<Int8>,
        revenue -> Nullable<Numeric>,
        external_audience -> Bool,
        internet_accessible -> Bool,
        regulations -> Array<Nullable<Text>>,
        technologies -> Jsonb,
        tags -> Array<Nullable<Text>>,
        enable_simple_risk_acceptance -> Bool,
        enable_full_risk_acceptance -> Bool,
        disable_sla_breach_notifications -> Bool,
        created -> Timestamptz,
        updated -> Timestamptz,
    }
}

diesel::table! {
    sla_configurations (id) {
        id -> Int4,
        #[max_length = 128]
        name -> Varchar,
        #[max_length = 512]
        description -> Nullable<Varchar>,
        critical -> Int4,
        high -> Int4,
        medium -> Int4,
        low -> Int4,
        enforce_critical -> Bool,
        enforce_high -> Bool,
        enforce_medium -> Bool,
        enforce_low -> Bool,
        restart_sla_on_reactivation -> Bool,
        created -> Timestamptz,
        updated -> Timestamptz,
    }
}

diesel::table! {
    system_settings (id) {
        id -> Int4,
        engagement_auto_close -> Bool,
        engagement_auto_close_days -> Int4,
        updated -> Timestamptz,
        enable_deduplication -> Bool,
    }
}

diesel::table! {
    test_import_actions (test_import_id, action) {
        test_import_id -> Int4,
        #[max_length = 12]
        action -> Varchar,
        finding_ids -> Array<Nullable<Int4>>,
    }
}

diesel::table! {
    test_imports (id) {
        id -> Int4,
        test_id -> Int4,
        #[max_length = 8]
        kind -> Varchar,
        #[max_length = 200]
        scan_type -> Varchar,
        #[max_length = 500]
        file_name -> Nullable<Varchar>,
        user_id -> Nullable<Int4>,
        #[max_length = 100]
        version -> Nullable<Varchar>,
        #[max_length = 150]
        build_id -> Nullable<Varchar>,
        #[max_length = 150]
        commit_hash -> Nullable<Varchar>,
        #[max_length = 150]
        branch_tag -> Nullable<Varchar>,
        statistics -> Jsonb,
        created -> Timestamptz,
    }
}

diesel::table! {
    test_types (id) {
        id -> Int4,
        #[max_length = 200]
        name -> Varchar,
        static_tool -> Bool,
        dynamic_tool -> Bool,
        active -> Bool,
        dynamically_generated -> Bool,
    }
}

diesel::table! {
    tests (id) {
        id -> Int4,
        engagement_id -> Int4,
        product_id -> Int4,
        test_type_id -> Int4,
        lead_id -> Nullable<Int4>,
        scan_type -> Nullable<Text>,
        #[max_length = 255]
        title -> Nullable<Varchar>,
        description -> Nullable<Text>,
        target_start -> Date,
        target_end -> Date,
        percent_complete -> Nullable<Int4>,
        environment_id -> Nullable<Int4>,
        #[max_length = 100]
        version -> Nullable<Varchar>,
        #[max_length = 150]
        build_id -> Nullable<Varchar>,
        #[max_length = 150]
        commit_hash -> Nullable<Varchar>,
        #[max_length = 150]
        branch_tag -> Nullable<Varchar>,
        tags -> Array<Nullable<Text>>,
        created -> Timestamptz,
        updated -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Int4,
        #[max_length = 150]
        username -> Varchar,
        #[max_length = 254]
        email -> Nullable<Varchar>,
        #[max_length = 150]
        first_name -> Nullable<Varchar>,
        #[max_length = 150]
        last_name -> Nullable<Varchar>,
        created -> Timestamptz,
        is_active -> Bool,
        is_superuser -> Bool,
        #[max_length = 16]
        global_role -> Nullable<Varchar>,
    }
}

diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(endpoint_status -> endpoints (endpoint_id));
diesel::joinable!(endpoint_status -> findings (finding_id));
diesel::joinable!(endpoint_status -> users (mitigated_by_id));
diesel::joinable!(endpoints -> products (product_id));
diesel::joinable!(engagements -> development_environments (environment_id));
diesel::joinable!(engagements -> products (product_id));
diesel::joinable!(engagements -> users (lead_id));
diesel::joinable!(files -> engagements (engagement_id));
diesel::joinable!(files -> findings (finding_id));
diesel::joinable!(files -> tests (test_id));
diesel::joinable!(group_members -> groups (group_id));
diesel::joinable!(group_members -> users (user_id));
diesel::joinable!(memberships -> groups (group_id));
diesel::joinable!(memberships -> product_types (product_type_id));
diesel::joinable!(memberships -> products (product_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(notification_settings -> products (product_id));
diesel::joinable!(notification_settings -> users (user_id));
diesel::joinable!(notes -> engagements (engagement_id));
diesel::joinable!(notes -> findings (finding_id));
diesel::joinable!(notes -> tests (test_id));
diesel::joinable!(notes -> users (author_id));
diesel::joinable!(products -> product_types (product_type_id));
diesel::joinable!(products -> sla_configurations (sla_configuration_id));
diesel::joinable!(test_import_actions -> test_imports (test_import_id));
diesel::joinable!(test_imports -> tests (test_id));
diesel::joinable!(test_imports -> users (user_id));
diesel::joinable!(tests -> development_environments (environment_id));
diesel::joinable!(tests -> test_types (test_type_id));
diesel::joinable!(tests -> users (lead_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_tokens,
    development_environments,
    endpoint_status,
    endpoints,
    engagements,
    event_outbox,
    event_relay,
    files,
    finding_counts,
    findings,
    group_members,
    groups,
    memberships,
    notes,
    notification_settings,
    product_finding_counts,
    product_types,
    products,
    sla_configurations,
    system_settings,
    test_import_actions,
    test_imports,
    test_types,
    tests,
    users,
);
