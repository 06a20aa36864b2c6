SELECT
  "t15"."id",
  "t15"."service",
  "t15"."opened_at",
  "t15"."first_review_at",
  "t15"."approved_at",
  "t15"."merged_at",
  "t15"."cg_since",
  "t15"."dg_since"
FROM (
  SELECT
    "t3"."id",
    "t3"."source",
    "t3"."source_id",
    "t3"."service",
    "t3"."repository",
    "t3"."author",
    "t3"."number",
    "t3"."title",
    "t3"."labels",
    "t3"."first_commit_at",
    "t3"."opened_at",
    "t3"."first_review_at",
    "t3"."approved_at",
    "t3"."merged_at",
    "t3"."merge_sha",
    "t3"."additions",
    "t3"."deletions",
    "t3"."files",
    "t3"."is_revert",
    "t3"."reverts",
    "t3"."deployment_ref",
    "t3"."deployment_id",
    "t3"."closed_at",
    "t6"."dd_id",
    "t6"."dd_finished",
    "t10"."fd_service",
    "t10"."first_t",
    "t13"."cg_ref",
    "t13"."cg_since",
    "t14"."dg_ref",
    "t14"."dg_since"
  FROM "headway_changes" AS "t3"
  LEFT OUTER JOIN (
    SELECT
      "t1"."id" AS "dd_id",
      "t1"."finished_at" AS "dd_finished"
    FROM "headway_deployments" AS "t1"
    WHERE
      "t1"."status" IN ('success')
      AND "t1"."kind" IN ('deploy', 'hotfix', 'rollback', 'release')
      AND "t1"."environment" IN ('production')
  ) AS "t6"
    ON "t3"."deployment_id" = "t6"."dd_id"
  LEFT OUTER JOIN (
    SELECT
      "t5"."service" AS "fd_service",
      MIN("t5"."finished_at") AS "first_t"
    FROM (
      SELECT
        *
      FROM "headway_deployments" AS "t1"
      WHERE
        "t1"."status" IN ('success')
        AND "t1"."kind" IN ('deploy', 'hotfix', 'rollback', 'release')
        AND "t1"."environment" IN ('production')
        AND "t1"."finished_at" < MAKE_TIMESTAMP(2026, 11, 1, 0, 0, 0.0)
    ) AS "t5"
    GROUP BY
      1
  ) AS "t10"
    ON "t3"."service" = "t10"."fd_service"
  LEFT OUTER JOIN (
    SELECT
      "t7"."change_ref" AS "cg_ref",
      MIN("t7"."requested_at") AS "cg_since"
    FROM (
      SELECT
        *
      FROM "headway_approvals" AS "t2"
      WHERE
        "t2"."kind" IN ('change_advisory', 'security', 'deployment_gate')
        AND "t2"."change_ref" IS NOT NULL
        AND "t2"."requested_at" < MAKE_TIMESTAMP(2026, 11, 1, 0, 0, 0.0)
        AND (
          (
            "t2"."decided_at" IS NULL
          )
          OR (
            "t2"."decided_at" >= MAKE_TIMESTAMP(2026, 11, 1, 0, 0, 0.0)
          )
        )
    ) AS "t7"
    GROUP BY
      1
  ) AS "t13"
    ON "t3"."id" = "t13"."cg_ref"
  LEFT OUTER JOIN (
    SELECT
      "t8"."deployment_ref" AS "dg_ref",
      MIN("t8"."requested_at") AS "dg_since"
    FROM (
      SELECT
        *
      FROM "headway_approvals" AS "t2"
      WHERE
        "t2"."kind" IN ('change_advisory', 'security', 'deployment_gate')
        AND "t2"."deployment_ref" IS NOT NULL
        AND "t2"."requested_at" < MAKE_TIMESTAMP(2026, 11, 1, 0, 0, 0.0)
        AND (
          (
            "t2"."decided_at" IS NULL
          )
          OR (
            "t2"."decided_at" >= MAKE_TIMESTAMP(2026, 11, 1, 0, 0, 0.0)
          )
        )
    ) AS "t8"
    GROUP BY
      1
  ) AS "t14"
    ON "t6"."dd_id" = "t14"."dg_ref"
) AS "t15"
WHERE
  "t15"."service" IN ('notifications', 'payments-ledger', 'search', 'storefront')
  AND (
    (
      (
        "t15"."opened_at" < MAKE_TIMESTAMP(2026, 11, 1, 0, 0, 0.0)
      )
      AND (
        (
          "t15"."merged_at" IS NULL
        )
        OR (
          "t15"."merged_at" >= MAKE_TIMESTAMP(2026, 11, 1, 0, 0, 0.0)
        )
      )
      AND (
        (
          "t15"."closed_at" IS NULL
        )
        OR (
          "t15"."closed_at" >= MAKE_TIMESTAMP(2026, 11, 1, 0, 0, 0.0)
        )
      )
    )
    OR (
      (
        "t15"."merged_at" < MAKE_TIMESTAMP(2026, 11, 1, 0, 0, 0.0)
      )
      AND (
        "t15"."merged_at" >= "t15"."first_t"
      )
      AND (
        (
          "t15"."dd_id" IS NULL
        )
        OR (
          "t15"."dd_finished" IS NULL
        )
        OR (
          "t15"."dd_finished" >= MAKE_TIMESTAMP(2026, 11, 1, 0, 0, 0.0)
        )
      )
    )
  )
ORDER BY
  "t15"."id" ASC
