SELECT
  "t48"."grp",
  "t48"."n",
  "t48"."mean_s",
  "t48"."negative",
  LIST_EXTRACT("t48"."qs", 1) AS "median_s",
  LIST_EXTRACT("t48"."qs", 2) AS "p75_s",
  LIST_EXTRACT("t48"."qs", 3) AS "p90_s"
FROM (
  SELECT
    "t47"."grp",
    COUNT("t47"."x") AS "n",
    AVG("t47"."x") AS "mean_s",
    SUM("t47"."neg") AS "negative",
    QUANTILE_CONT("t47"."x", [0.5, 0.75, 0.9]) AS "qs"
  FROM (
    SELECT
      "t46"."grp",
      CASE
        WHEN (
          "t46"."finished_at" IS NULL
        ) OR (
          "t46"."first_fix" IS NULL
        )
        THEN CAST(NULL AS DOUBLE)
        WHEN (
          DATE_DIFF('MICROSECOND', "t46"."finished_at", "t46"."first_fix") / 1000000
        ) < 0
        THEN CAST(NULL AS DOUBLE)
        WHEN (
          DATE_DIFF('MICROSECOND', "t46"."finished_at", "t46"."first_fix") / 1000000
        ) = 0
        THEN 0.0
        ELSE DATE_DIFF('MICROSECOND', "t46"."finished_at", "t46"."first_fix") / 1000000
      END AS "x",
      CASE WHEN "t46"."first_fix" < "t46"."finished_at" THEN 1 ELSE 0 END AS "neg"
    FROM (
      SELECT
        "t31"."id",
        "t31"."service",
        "t31"."started_at",
        "t31"."finished_at",
        "t31"."s_name",
        "t31"."s_team",
        "t31"."s_context",
        "t31"."grp",
        "t45"."failed_id",
        "t45"."first_fix"
      FROM (
        SELECT
          "t26"."id",
          "t26"."service",
          "t26"."started_at",
          "t26"."finished_at",
          "t26"."s_name",
          "t26"."s_team",
          "t26"."s_context",
          'organisation' AS "grp"
        FROM (
          SELECT
            "t20"."id",
            "t20"."service",
            "t20"."started_at",
            "t20"."finished_at",
            "t16"."s_name",
            "t16"."s_team",
            "t16"."s_context"
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
          ) AS "t20"
          LEFT OUTER JOIN (
            SELECT
              "t1"."name" AS "s_name",
              "t1"."team" AS "s_team",
              "t1"."context" AS "s_context"
            FROM "headway_services" AS "t1"
          ) AS "t16"
            ON "t20"."service" = "t16"."s_name"
        ) AS "t26"
      ) AS "t31"
      INNER JOIN (
        SELECT
          "t43"."failed_id",
          MIN("t43"."fixed_at") AS "first_fix"
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
                    "t38"."deployment_id" AS "failed_id",
                    "t38"."resolved_at" AS "fixed_at"
                  FROM (
                    SELECT
                      "t5"."id",
                      "t5"."service",
                      "t5"."opened_at",
                      "t5"."resolved_at",
                      "t37"."blamed_dep" AS "deployment_id",
                      "t37"."blamed_t" AS "cause_t"
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
                        ) AS "t23"
                      ) AS "t25"
                      UNION ALL
                      SELECT
                        *
                      FROM (
                        SELECT
                          "t34"."event_id" AS "blamed_id",
                          "t34"."deployment_id" AS "blamed_dep",
                          "t34"."dep_t" AS "blamed_t"
                        FROM (
                          SELECT
                            "t33"."event_id",
                            "t33"."service",
                            "t33"."t",
                            "t33"."o",
                            "t33"."dep_id",
                            "t33"."run",
                            MAX("t33"."dep_id") OVER (
                              PARTITION BY "t33"."service", "t33"."run"
                              ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
                            ) AS "deployment_id",
                            MAX(
                              CASE
                                WHEN "t33"."dep_id" IS NOT NULL
                                THEN "t33"."t"
                                ELSE CAST(NULL AS TIMESTAMP(6))
                              END
                            ) OVER (
                              PARTITION BY "t33"."service", "t33"."run"
                              ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
                            ) AS "dep_t"
                          FROM (
                            SELECT
                              "t29"."event_id",
                              "t29"."service",
                              "t29"."t",
                              "t29"."o",
                              "t29"."dep_id",
                              COUNT("t29"."dep_id") OVER (
                                PARTITION BY "t29"."service"
                                ORDER BY "t29"."t" ASC, "t29"."o" ASC
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
                              ) AS "t19"
                              UNION ALL
                              SELECT
                                *
                              FROM (
                                SELECT
                                  CAST(NULL AS TEXT) AS "event_id",
                                  "t24"."service",
                                  "t24"."t",
                                  0 AS "o",
                                  "t24"."dep_id"
                                FROM (
                                  SELECT
                                    "t12"."service",
                                    "t12"."t",
                                    MIN("t12"."id") AS "dep_id"
                                  FROM (
                                    SELECT
                                      "t0"."id",
                                      "t0"."service",
                                      "t0"."finished_at" AS "t"
                                    FROM "headway_deployments" AS "t0"
                                    WHERE
                                      "t0"."status" = 'success' AND "t0"."environment" IN ('production')
                                  ) AS "t12"
                                  GROUP BY
                                    1,
                                    2
                                ) AS "t24"
                              ) AS "t27"
                            ) AS "t29"
                          ) AS "t33"
                        ) AS "t34"
                        WHERE
                          "t34"."event_id" IS NOT NULL
                          AND "t34"."deployment_id" IS NOT NULL
                          AND DATE_DIFF('MICROSECOND', "t34"."dep_t", "t34"."t") <= 1800000000
                      ) AS "t35"
                    ) AS "t37"
                      ON "t5"."id" = "t37"."blamed_id"
                  ) AS "t38"
                  WHERE
                    "t38"."deployment_id" IS NOT NULL
                ) AS "t39"
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
                ) AS "t14"
              ) AS "t40"
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
            ) AS "t41"
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
            ) AS "t15"
          ) AS "t42"
          UNION ALL
          SELECT
            *
          FROM (
            SELECT
              "t28"."cd_id" AS "failed_id",
              "t28"."fixed_at"
            FROM (
              SELECT
                "t21"."revert",
                "t21"."reverted_at",
                "t21"."reverts",
                "t21"."fix",
                "t22"."change",
                "t22"."shipped",
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
              ) AS "t21"
              INNER JOIN (
                SELECT
                  "t2"."id" AS "change",
                  "t2"."deployment_id" AS "shipped"
                FROM "headway_changes" AS "t2"
                WHERE
                  "t2"."reverts" IS NULL
              ) AS "t22"
                ON "t21"."reverts" = "t22"."change"
              INNER JOIN (
                SELECT
                  "t0"."id" AS "cd_id",
                  "t0"."finished_at" AS "shipped_at"
                FROM "headway_deployments" AS "t0"
              ) AS "t9"
                ON "t22"."shipped" = "t9"."cd_id"
              LEFT OUTER JOIN (
                SELECT
                  "t0"."id" AS "rd_id",
                  "t0"."finished_at" AS "fixed_at"
                FROM "headway_deployments" AS "t0"
              ) AS "t10"
                ON "t21"."fix" = "t10"."rd_id"
            ) AS "t28"
            WHERE
              (
                (
                  "t28"."rd_id" IS NULL
                ) OR (
                  "t28"."fixed_at" > "t28"."shipped_at"
                )
              )
              AND DATE_DIFF('MICROSECOND', "t28"."shipped_at", "t28"."reverted_at") <= 2592000000000
          ) AS "t32"
        ) AS "t43"
        GROUP BY
          1
      ) AS "t45"
        ON "t31"."id" = "t45"."failed_id"
    ) AS "t46"
  ) AS "t47"
  GROUP BY
    1
) AS "t48"
