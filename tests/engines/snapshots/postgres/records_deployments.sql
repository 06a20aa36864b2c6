SELECT
  *
FROM (
  SELECT
    "t20"."id",
    "t20"."service",
    "t20"."environment",
    "t20"."kind",
    "t20"."status",
    "t20"."version",
    "t20"."sha",
    "t20"."started_at",
    "t20"."finished_at",
    "t20"."recovers_id",
    "t20"."source",
    "t20"."repository",
    "t20"."rework",
    COUNT("t20"."id") OVER (ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS "listed"
  FROM (
    SELECT
      "t13"."id",
      "t13"."service",
      "t13"."environment",
      "t13"."kind",
      "t13"."status",
      "t13"."version",
      "t13"."sha",
      "t13"."started_at",
      "t13"."finished_at",
      "t13"."recovers_id",
      "t13"."source",
      "t10"."s_repository" AS "repository",
      "t19"."rework_id" IS NOT NULL AS "rework"
    FROM (
      SELECT
        *
      FROM "deployments" AS "t0"
      WHERE
        "t0"."status" IN ('success')
        AND "t0"."kind" IN ('deploy', 'hotfix', 'rollback', 'release')
        AND "t0"."environment" IN ('production')
        AND "t0"."finished_at" >= CAST('2026-09-02T00:00:00' AS TIMESTAMP)
        AND "t0"."finished_at" < CAST('2026-11-01T00:00:00' AS TIMESTAMP)
        AND "t0"."service" IN ('notifications', 'payments-ledger', 'search', 'storefront')
    ) AS "t13"
    LEFT OUTER JOIN (
      SELECT
        "t1"."name" AS "s_name",
        "t1"."repository" AS "s_repository"
      FROM "services" AS "t1"
    ) AS "t10"
      ON "t13"."service" = "t10"."s_name"
    LEFT OUTER JOIN (
      SELECT
        *
      FROM (
        SELECT
          CAST("t0"."id" AS VARCHAR) AS "rework_id"
        FROM "deployments" AS "t0"
        WHERE
          "t0"."recovers_id" IS NOT NULL
      ) AS "t9"
      UNION
      SELECT
        *
      FROM (
        SELECT
          "t16"."rd_id" AS "rework_id"
        FROM (
          SELECT
            "t14"."revert",
            "t14"."reverted_at",
            "t14"."reverts",
            "t14"."fix",
            "t15"."change",
            "t15"."shipped",
            "t6"."cd_id",
            "t6"."shipped_at",
            "t7"."rd_id",
            "t7"."fixed_at"
          FROM (
            SELECT
              "t2"."id" AS "revert",
              "t2"."merged_at" AS "reverted_at",
              "t2"."reverts",
              "t2"."deployment_id" AS "fix"
            FROM "changes" AS "t2"
            WHERE
              "t2"."reverts" IS NOT NULL AND "t2"."merged_at" IS NOT NULL
          ) AS "t14"
          INNER JOIN (
            SELECT
              "t2"."id" AS "change",
              "t2"."deployment_id" AS "shipped"
            FROM "changes" AS "t2"
            WHERE
              "t2"."reverts" IS NULL
          ) AS "t15"
            ON "t14"."reverts" = "t15"."change"
          INNER JOIN (
            SELECT
              "t0"."id" AS "cd_id",
              "t0"."finished_at" AS "shipped_at"
            FROM "deployments" AS "t0"
          ) AS "t6"
            ON "t15"."shipped" = "t6"."cd_id"
          LEFT OUTER JOIN (
            SELECT
              "t0"."id" AS "rd_id",
              "t0"."finished_at" AS "fixed_at"
            FROM "deployments" AS "t0"
          ) AS "t7"
            ON "t14"."fix" = "t7"."rd_id"
        ) AS "t16"
        WHERE
          (
            (
              "t16"."rd_id" IS NULL
            ) OR (
              "t16"."fixed_at" > "t16"."shipped_at"
            )
          )
          AND "t16"."rd_id" IS NOT NULL
      ) AS "t17"
    ) AS "t19"
      ON "t13"."id" = "t19"."rework_id"
  ) AS "t20"
) AS "t21"
ORDER BY
  "t21"."finished_at" ASC,
  "t21"."id" ASC
LIMIT 50
