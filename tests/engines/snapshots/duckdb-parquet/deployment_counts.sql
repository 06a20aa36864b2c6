WITH "t29" AS (
  SELECT
    "t22"."revert",
    "t22"."reverted_at",
    "t22"."reverts",
    "t22"."fix",
    "t23"."change",
    "t23"."shipped",
    "t9"."cd_id",
    "t9"."shipped_at",
    "t10"."rd_id",
    "t10"."fixed_at"
  FROM (
    SELECT
      "t2"."id" AS "revert",
      "t2"."merged_at" AS "reverted_at",
      "t2"."reverts",
      "t2"."deployment_id" AS "fix"
    FROM "headway_changes" AS "t2"
    WHERE
      "t2"."reverts" IS NOT NULL AND "t2"."merged_at" IS NOT NULL
  ) AS "t22"
  INNER JOIN (
    SELECT
      "t2"."id" AS "change",
      "t2"."deployment_id" AS "shipped"
    FROM "headway_changes" AS "t2"
    WHERE
      "t2"."reverts" IS NULL
  ) AS "t23"
    ON "t22"."reverts" = "t23"."change"
  INNER JOIN (
    SELECT
      "t0"."id" AS "cd_id",
      "t0"."finished_at" AS "shipped_at"
    FROM "headway_deployments" AS "t0"
  ) AS "t9"
    ON "t23"."shipped" = "t9"."cd_id"
  LEFT OUTER JOIN (
    SELECT
      "t0"."id" AS "rd_id",
      "t0"."finished_at" AS "fixed_at"
    FROM "headway_deployments" AS "t0"
  ) AS "t10"
    ON "t22"."fix" = "t10"."rd_id"
)
SELECT
  "t51"."grp",
  COUNT(*) AS "deployments",
  COUNT(DISTINCT CAST("t51"."finished_at" AS DATE)) AS "deploy_days",
  SUM(CASE WHEN "t51"."rework_id" IS NOT NULL THEN 1 ELSE 0 END) AS "rework",
  SUM(CASE WHEN "t51"."failed_id" IS NOT NULL THEN 1 ELSE 0 END) AS "failed",
  SUM(
    CASE
      WHEN (
        "t51"."failed_id" IS NOT NULL
      ) AND (
        "t51"."first_fix" IS NULL
      )
      THEN 1
      ELSE 0
    END
  ) AS "unrecovered"
FROM (
  SELECT
    "t33"."id",
    "t33"."service",
    "t33"."started_at",
    "t33"."finished_at",
    "t33"."s_name",
    "t33"."s_team",
    "t33"."s_context",
    "t33"."grp",
    "t38"."rework_id",
    "t50"."failed_id",
    "t50"."first_fix"
  FROM (
    SELECT
      "t27"."id",
      "t27"."service",
      "t27"."started_at",
      "t27"."finished_at",
      "t27"."s_name",
      "t27"."s_team",
      "t27"."s_context",
      'organisation' AS "grp"
    FROM (
      SELECT
        "t21"."id",
        "t21"."service",
        "t21"."started_at",
        "t21"."finished_at",
        "t17"."s_name",
        "t17"."s_team",
        "t17"."s_context"
      FROM (
        SELECT
          "t0"."id",
          "t0"."service",
          "t0"."started_at",
          "t0"."finished_at"
        FROM "headway_deployments" AS "t0"
        WHERE
          "t0"."status" IN ('success')
          AND "t0"."kind" IN ('deploy', 'hotfix', 'rollback', 'release')
          AND "t0"."environment" IN ('production')
          AND "t0"."finished_at" >= MAKE_TIMESTAMP(2026, 9, 2, 0, 0, 0.0)
          AND "t0"."finished_at" < MAKE_TIMESTAMP(2026, 11, 1, 0, 0, 0.0)
          AND "t0"."service" IN ('notifications', 'payments-ledger', 'search', 'storefront')
      ) AS "t21"
      LEFT OUTER JOIN (
        SELECT
          "t1"."name" AS "s_name",
          "t1"."team" AS "s_team",
          "t1"."context" AS "s_context"
        FROM "headway_services" AS "t1"
      ) AS "t17"
        ON "t21"."service" = "t17"."s_name"
    ) AS "t27"
  ) AS "t33"
  LEFT OUTER JOIN (
    SELECT
      *
    FROM (
      SELECT
        "t0"."id" AS "rework_id"
      FROM "headway_deployments" AS "t0"
      WHERE
        "t0"."recovers_id" IS NOT NULL
    ) AS "t11"
    UNION
    SELECT
      *
    FROM (
      SELECT
        "t31"."rd_id" AS "rework_id"
      FROM "t29" AS "t31"
      WHERE
        (
          (
            "t31"."rd_id" IS NULL
          ) OR (
            "t31"."fixed_at" > "t31"."shipped_at"
          )
        )
        AND "t31"."rd_id" IS NOT NULL
    ) AS "t35"
  ) AS "t38"
    ON "t33"."id" = "t38"."rework_id"
  LEFT OUTER JOIN (
    SELECT
      "t48"."failed_id",
      MIN("t48"."fixed_at") AS "first_fix"
    FROM (
      SELECT
        *
      FROM (
        SELECT
          *
        FROM (
          SELECT
            *
          FROM (
            SELECT
              *
            FROM (
              SELECT
                "t43"."deployment_id" AS "failed_id",
                "t43"."resolved_at" AS "fixed_at"
              FROM (
                SELECT
                  "t5"."id",
                  "t5"."service",
                  "t5"."opened_at",
                  "t5"."resolved_at",
                  "t42"."blamed_dep" AS "deployment_id",
                  "t42"."blamed_t" AS "cause_t"
                FROM "headway_incidents" AS "t5"
                LEFT OUTER JOIN (
                  SELECT
                    *
                  FROM (
                    SELECT
                      *
                    FROM (
                      SELECT
                        "t5"."id" AS "blamed_id",
                        "t4"."id" AS "blamed_dep",
                        "t4"."finished_at" AS "blamed_t"
                      FROM "headway_incidents" AS "t5"
                      INNER JOIN "headway_deployments" AS "t4"
                        ON "t5"."cause_ref" = "t4"."id"
                    ) AS "t24"
                  ) AS "t26"
                  UNION ALL
                  SELECT
                    *
                  FROM (
                    SELECT
                      "t39"."event_id" AS "blamed_id",
                      "t39"."deployment_id" AS "blamed_dep",
                      "t39"."dep_t" AS "blamed_t"
                    FROM (
                      SELECT
                        "t34"."event_id",
                        "t34"."service",
                        "t34"."t",
                        "t34"."o",
                        "t34"."dep_id",
                        "t34"."run",
                        MAX("t34"."dep_id") OVER (
                          PARTITION BY "t34"."service", "t34"."run"
                          ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
                        ) AS "deployment_id",
                        MAX(
                          CASE
                            WHEN "t34"."dep_id" IS NOT NULL
                            THEN "t34"."t"
                            ELSE CAST(NULL AS TIMESTAMP(6))
                          END
                        ) OVER (
                          PARTITION BY "t34"."service", "t34"."run"
                          ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
                        ) AS "dep_t"
                      FROM (
                        SELECT
                          "t30"."event_id",
                          "t30"."service",
                          "t30"."t",
                          "t30"."o",
                          "t30"."dep_id",
                          COUNT("t30"."dep_id") OVER (
                            PARTITION BY "t30"."service"
                            ORDER BY "t30"."t" ASC, "t30"."o" ASC
                            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
                          ) AS "run"
                        FROM (
                          SELECT
                            *
                          FROM (
                            SELECT
                              "t3"."id" AS "event_id",
                              "t3"."service",
                              "t3"."opened_at" AS "t",
                              1 AS "o",
                              CAST(NULL AS TEXT) AS "dep_id"
                            FROM "headway_incidents" AS "t3"
                            WHERE
                              "t3"."cause_ref" IS NULL
                          ) AS "t20"
                          UNION ALL
                          SELECT
                            *
                          FROM (
                            SELECT
                              CAST(NULL AS TEXT) AS "event_id",
                              "t25"."service",
                              "t25"."t",
                              0 AS "o",
                              "t25"."dep_id"
                            FROM (
                              SELECT
                                "t15"."service",
                                "t15"."t",
                                MIN("t15"."id") AS "dep_id"
                              FROM (
                                SELECT
                                  "t0"."id",
                                  "t0"."service",
                                  "t0"."finished_at" AS "t"
                                FROM "headway_deployments" AS "t0"
                                WHERE
                                  "t0"."status" = 'success' AND "t0"."environment" IN ('production')
                              ) AS "t15"
                              GROUP BY
                                1,
                                2
                            ) AS "t25"
                          ) AS "t28"
                        ) AS "t30"
                      ) AS "t34"
                    ) AS "t39"
                    WHERE
                      "t39"."event_id" IS NOT NULL
                      AND "t39"."deployment_id" IS NOT NULL
                      AND DATE_DIFF('MICROSECOND', "t39"."dep_t", "t39"."t") <= 1800000000
                  ) AS "t40"
                ) AS "t42"
                  ON "t5"."id" = "t42"."blamed_id"
              ) AS "t43"
              WHERE
                "t43"."deployment_id" IS NOT NULL
            ) AS "t44"
            UNION ALL
            SELECT
              *
            FROM (
              SELECT
                "t0"."recovers_id" AS "failed_id",
                "t0"."finished_at" AS "fixed_at"
              FROM "headway_deployments" AS "t0"
              WHERE
                "t0"."kind" = 'rollback'
                AND "t0"."status" = 'success'
                AND "t0"."recovers_id" IS NOT NULL
            ) AS "t12"
          ) AS "t45"
          UNION ALL
          SELECT
            *
          FROM (
            SELECT
              "t0"."recovers_id" AS "failed_id",
              "t0"."finished_at" AS "fixed_at"
            FROM "headway_deployments" AS "t0"
            WHERE
              "t0"."kind" = 'hotfix'
              AND "t0"."status" = 'success'
              AND "t0"."recovers_id" IS NOT NULL
          ) AS "t13"
        ) AS "t46"
        UNION ALL
        SELECT
          *
        FROM (
          SELECT
            "t0"."recovers_id" AS "failed_id",
            "t0"."finished_at" AS "fixed_at"
          FROM "headway_deployments" AS "t0"
          WHERE
            "t0"."kind" = 'rollback'
            AND "t0"."trigger" = 'rollout'
            AND "t0"."status" = 'success'
            AND "t0"."recovers_id" IS NOT NULL
        ) AS "t16"
      ) AS "t47"
      UNION ALL
      SELECT
        *
      FROM (
        SELECT
          "t31"."cd_id" AS "failed_id",
          "t31"."fixed_at"
        FROM "t29" AS "t31"
        WHERE
          (
            (
              "t31"."rd_id" IS NULL
            ) OR (
              "t31"."fixed_at" > "t31"."shipped_at"
            )
          )
          AND DATE_DIFF('MICROSECOND', "t31"."shipped_at", "t31"."reverted_at") <= 2592000000000
      ) AS "t36"
    ) AS "t48"
    GROUP BY
      1
  ) AS "t50"
    ON "t33"."id" = "t50"."failed_id"
) AS "t51"
GROUP BY
  1
