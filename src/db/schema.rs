//! The tables, shared by both backends: the migrations under `migrations/sqlite`
//! and `migrations/postgres` create the same columns with the same types.

diesel::table! {
    organizations (id) {
        id -> Text,
        name -> Text,
        slug -> Text,
        created_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        deleted_by -> Nullable<Text>,
        purge_after -> Nullable<Timestamp>,
    }
}

diesel::table! {
    organization_slugs (slug) {
        slug -> Text,
        org_id -> Text,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    allowed_email_domains (org_id, domain) {
        org_id -> Text,
        domain -> Text,
    }
}

diesel::table! {
    ownership_transfers (org_id) {
        org_id -> Text,
        from_user_id -> Text,
        to_user_id -> Text,
        then_role -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        name -> Text,
        email -> Text,
        avatar_url -> Nullable<Text>,
        created_at -> Timestamp,
        last_sign_in_at -> Nullable<Timestamp>,
        sessions_ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    service_accounts (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        description -> Text,
        role -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        org_id -> Text,
        kind -> Text,
        user_id -> Nullable<Text>,
        service_account_id -> Nullable<Text>,
        name -> Text,
        access -> Text,
        token_hash -> Text,
        last_four -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        last_used_ip -> Nullable<Text>,
        permissions -> Nullable<Text>,
        networks -> Nullable<Text>,
        rate -> Nullable<Text>,
    }
}

diesel::table! {
    introspection_clients (id) {
        id -> Text,
        name -> Text,
        secret_hash -> Text,
        last_four -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    auth_changes (id) {
        id -> BigInt,
    }
}

diesel::table! {
    idempotent_requests (credential_id, idempotency_key) {
        credential_id -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        status -> Integer,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    form_submissions (once_value, purpose) {
        once_value -> Text,
        purpose -> Text,
        user_id -> Text,
        outcome -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ended_sessions (session_id) {
        session_id -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    identities (id) {
        id -> Text,
        user_id -> Text,
        provider -> Text,
        subject -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    identity_emails (identity_id, email) {
        identity_id -> Text,
        email -> Text,
    }
}

diesel::table! {
    memberships (org_id, user_id) {
        org_id -> Text,
        user_id -> Text,
        role -> Text,
        joined_at -> Timestamp,
        invited_by -> Nullable<Text>,
        name -> Text,
        name_key -> Text,
        email -> Text,
        avatar_url -> Nullable<Text>,
        expires_at -> Nullable<Timestamp>,
        expiry_reminded_at -> Nullable<Timestamp>,
        expiry_held_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Kept by triggers on `invitations` (see the counts migration).
    pending_invitation_counts (org_id) {
        org_id -> Text,
        pending -> BigInt,
    }
}

diesel::table! {
    invitations (id) {
        id -> Text,
        org_id -> Text,
        email -> Text,
        name -> Nullable<Text>,
        role -> Text,
        invited_by -> Nullable<Text>,
        inviter_name -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        last_sent_at -> Timestamp,
        send_count -> Integer,
        delivery -> Text,
        state -> Text,
        closed_at -> Nullable<Timestamp>,
        closed_by -> Nullable<Text>,
        membership_expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    invitation_tokens (token_hash) {
        token_hash -> Text,
        invitation_id -> Text,
        created_at -> Timestamp,
        replaced_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Kept by triggers on `memberships`: the version every change raises,
    /// and how many members hold each role.
    member_list_versions (org_id) {
        org_id -> Text,
        version -> BigInt,
        owners -> BigInt,
        admins -> BigInt,
        developers -> BigInt,
        contributors -> BigInt,
        viewers -> BigInt,
        others -> BigInt,
    }
}

diesel::table! {
    invitation_list_versions (org_id) {
        org_id -> Text,
        version -> BigInt,
    }
}

diesel::table! {
    email_outbox (id) {
        id -> Text,
        invitation_id -> Nullable<Text>,
        recipient -> Text,
        subject -> Nullable<Text>,
        body_text -> Nullable<Text>,
        body_html -> Nullable<Text>,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        message -> Nullable<Text>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        org_id -> Nullable<Text>,
        actor_id -> Nullable<Text>,
        actor_label -> Text,
        action -> Text,
        target -> Text,
        before_state -> Nullable<Text>,
        after_state -> Nullable<Text>,
        client_ip -> Nullable<Text>,
        created_at -> Timestamp,
        actor_kind -> Text,
        actor_name -> Text,
        actor_email -> Nullable<Text>,
        credential -> Text,
        target_kind -> Text,
        target_id -> Nullable<Text>,
        target_name -> Text,
        target_email -> Nullable<Text>,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::joinable!(identities -> users (user_id));
diesel::joinable!(identity_emails -> identities (identity_id));
diesel::joinable!(memberships -> organizations (org_id));
diesel::joinable!(organization_slugs -> organizations (org_id));
diesel::joinable!(api_tokens -> organizations (org_id));
diesel::joinable!(api_tokens -> service_accounts (service_account_id));
diesel::joinable!(service_accounts -> organizations (org_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(invitations -> organizations (org_id));
diesel::joinable!(invitation_tokens -> invitations (invitation_id));

diesel::allow_tables_to_appear_in_same_query!(
    organizations,
    organization_slugs,
    allowed_email_domains,
    ownership_transfers,
    users,
    ended_sessions,
    idempotent_requests,
    form_submissions,
    service_accounts,
    api_tokens,
    introspection_clients,
    auth_changes,
    identities,
    identity_emails,
    memberships,
    pending_invitation_counts,
    member_list_versions,
    invitation_list_versions,
    invitations,
    invitation_tokens,
    email_outbox,
    audit_events,
    settings,
);
